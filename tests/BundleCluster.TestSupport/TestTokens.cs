using System.Security.Cryptography;
using System.Text.Json;
using BundleCluster.Client;

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

    /// <summary>Writes the private key (PKCS#8 PEM), as bundlectl token --key reads it.</summary>
    public string WritePrivateKey(string path)
    {
        File.WriteAllText(path, _key.ExportPkcs8PrivateKeyPem());
        return path;
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

        return DevelopmentToken.Sign(_key, claims, TimeSpan.Zero);
    }

    /// <summary>The same claims with "alg": "none" and no signature: must be refused.</summary>
    public string WithoutSignature(string subject)
    {
        string[] parts = For(subject).Split('.');
        return $"{DevelopmentToken.Base64Url(JsonSerializer.SerializeToUtf8Bytes(new { alg = "none", typ = "JWT" }))}.{parts[1]}.";
    }

    public void Dispose() => _key.Dispose();
}
