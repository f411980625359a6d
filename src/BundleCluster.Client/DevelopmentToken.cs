using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace BundleCluster.Client;

/// <summary>
/// Signs a bearer JWT (RS256 with an RSA key, ES256 with an EC P-256 key) for a development deployment of bundle-api
/// whose <c>--jwt-key-file</c> is the public half of the key (<c>bundlectl token</c>, <c>deploy/local-cluster.sh</c>,
/// the tests). Production tokens come from an identity provider or Kubernetes, not from here.
/// </summary>
public static class DevelopmentToken
{
    /// <param name="privateKeyPem">An RSA or EC P-256 private key in PEM.</param>
    /// <param name="claims">At least sub, iss and aud; iat and exp are added from <paramref name="lifetime"/> unless given.</param>
    public static string Sign(string privateKeyPem, IReadOnlyDictionary<string, object> claims, TimeSpan lifetime)
    {
        using AsymmetricAlgorithm key = Load(privateKeyPem);
        return Sign(key, claims, lifetime);
    }

    public static string Sign(AsymmetricAlgorithm key, IReadOnlyDictionary<string, object> claims, TimeSpan lifetime)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = new Dictionary<string, object>(claims);
        payload.TryAdd("iat", now);
        payload.TryAdd("exp", now + (long)lifetime.TotalSeconds);
        string header = key is RSA ? """{"alg":"RS256","typ":"JWT"}""" : """{"alg":"ES256","typ":"JWT"}""";
        string signingInput = $"{Base64Url(Encoding.UTF8.GetBytes(header))}.{Base64Url(JsonSerializer.SerializeToUtf8Bytes(payload))}";
        byte[] data = Encoding.ASCII.GetBytes(signingInput);
        byte[] signature = key switch
        {
            RSA rsa => rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            ECDsa ec => ec.SignData(data, HashAlgorithmName.SHA256), // IEEE P1363 r||s, as JWS (RFC 7518) wants
            _ => throw new ArgumentException("an RSA or EC key is needed", nameof(key)),
        };
        return $"{signingInput}.{Base64Url(signature)}";
    }

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static AsymmetricAlgorithm Load(string pem)
    {
        if (pem.Contains("BEGIN EC PRIVATE KEY", StringComparison.Ordinal))
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            return ec;
        }

        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            _ = rsa.ExportParameters(false);
            return rsa;
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
            var ec = ECDsa.Create();
            ec.ImportFromPem(pem); // a PKCS#8 EC key; throws when it is neither
            return ec;
        }
    }
}
