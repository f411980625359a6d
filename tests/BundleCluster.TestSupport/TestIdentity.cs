using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace BundleCluster.TestSupport;

/// <summary>An RSA key pair and self-signed certificate written as PEM files, like a user's EC2 signing identity.</summary>
public sealed class TestIdentity
{
    private static readonly Lazy<RSA> SharedUserKey = new(() => RSA.Create(2048));
    private static readonly Lazy<RSA> SharedCloudKey = new(() => RSA.Create(2048));
    private static readonly Lazy<RSA> SharedOtherKey = new(() => RSA.Create(2048));

    private TestIdentity(string certificatePath, string privateKeyPath)
    {
        CertificatePath = certificatePath;
        PrivateKeyPath = privateKeyPath;
    }

    public string CertificatePath { get; }

    public string PrivateKeyPath { get; }

    /// <summary>An identity that exists as files already (one that deploy/docker/dev-secrets.sh made).</summary>
    public static TestIdentity FromFiles(string certificatePath, string privateKeyPath) => new(certificatePath, privateKeyPath);

    /// <summary>The user's identity (key generation is slow, so the key is shared by the test run; files are not).</summary>
    public static TestIdentity User(string directory) => Write(directory, "user", SharedUserKey.Value);

    /// <summary>The cloud's identity, standing in for Amazon's cert-ec2.pem.</summary>
    public static TestIdentity Cloud(string directory) => Write(directory, "cloud", SharedCloudKey.Value);

    /// <summary>A stranger's identity: its key decrypts nothing of the user's bundles.</summary>
    public static TestIdentity Other(string directory) => Write(directory, "other", SharedOtherKey.Value);

    private static TestIdentity Write(string directory, string name, RSA key)
    {
        string certPath = Path.Combine(directory, $"{name}-cert.pem");
        string keyPath = Path.Combine(directory, $"{name}-pk.pem");
        if (File.Exists(certPath) && File.Exists(keyPath))
        {
            // Already written by this test run (the key is shared): rewriting would race with silos reading it.
            return new TestIdentity(certPath, keyPath);
        }

        var request = new CertificateRequest($"CN=bundlecluster-test-{name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using X509Certificate2 cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        WriteAtomically(certPath, cert.ExportCertificatePem());
        WriteAtomically(keyPath, key.ExportRSAPrivateKeyPem());
        return new TestIdentity(certPath, keyPath);
    }

    /// <summary>Readers see the old file or the new one, never a half-written one.</summary>
    private static void WriteAtomically(string path, string text)
    {
        string temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }
}
