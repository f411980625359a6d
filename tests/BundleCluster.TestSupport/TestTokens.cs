using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace BundleCluster.TestSupport;

/// <summary>
/// Signs JWTs the way an identity provider or the Kubernetes API server does (RS256 or ES256, compact form), with a
/// key whose public half bundle-api is given as --jwt-key-file.
/// </summary>
public sealed class TestTokens : IDisposable
{
    private readonly AsymmetricAlgorithm _key;

    private TestTokens(AsymmetricAlgorithm key, string publicKeyPath)
    {
        _key = key;
        PublicKeyPath = publicKeyPath;
    }

    public const string Issuer = "https://issuer.test";

    public const string Audience = "bundle-api";

    /// <summary>The PEM public key file for --jwt-key-file.</summary>
    public string PublicKeyPath { get; }

    public static TestTokens Rsa(string directory)
    {
        var rsa = RSA.Create(2048);
        string path = Path.Combine(directory, "jwt-rsa.pem");
        File.WriteAllText(path, rsa.ExportSubjectPublicKeyInfoPem());
        return new TestTokens(rsa, path);
    }

    public static TestTokens EcdsaP256(string directory)
    {
        var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string path = Path.Combine(directory, "jwt-ec.pem");
        File.WriteAllText(path, ec.ExportSubjectPublicKeyInfoPem());
        return new TestTokens(ec, path);
    }

    /// <summary>A token for <paramref name="subject"/>; the other arguments make it wrong in one way each.</summary>
    public string For(string subject, string audience = Audience, string issuer = Issuer, TimeSpan? lifetime = null, string? scope = null)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var claims = new Dictionary<string, object>
        {
            ["sub"] = subject,
            ["aud"] = audience,
            ["iss"] = issuer,
            ["iat"] = now,
            ["exp"] = now + (long)(lifetime ?? TimeSpan.FromMinutes(10)).TotalSeconds,
        };
        if (scope is not null)
        {
            claims["scope"] = scope;
        }

        string alg = _key is RSA ? "RS256" : "ES256";
        string signingInput = $"{Encode(new Dictionary<string, object> { ["alg"] = alg, ["typ"] = "JWT" })}.{Encode(claims)}";
        byte[] data = Encoding.ASCII.GetBytes(signingInput);
        byte[] signature = _key is RSA rsa
            ? rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : ((ECDsa)_key).SignData(data, HashAlgorithmName.SHA256); // IEEE P1363 r||s, as JWS wants
        return $"{signingInput}.{Base64Url(signature)}";
    }

    /// <summary>The same claims with "alg": "none" and no signature: must be refused.</summary>
    public string WithoutSignature(string subject)
    {
        string[] parts = For(subject).Split('.');
        return $"{Encode(new Dictionary<string, object> { ["alg"] = "none", ["typ"] = "JWT" })}.{parts[1]}.";
    }

    private static string Encode(Dictionary<string, object> json) => Base64Url(JsonSerializer.SerializeToUtf8Bytes(json));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose() => _key.Dispose();
}
