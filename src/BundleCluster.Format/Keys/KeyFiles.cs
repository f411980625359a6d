using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Files;

namespace BundleCluster.Format.Keys;

/// <summary>
/// Loads PEM certificates and RSA private keys with errors a user can act on. Certificate dates and chains are never
/// checked: Amazon's shipped cloud certificate expired in 2006 and the original tools never looked. Key files are
/// read as regular files of at most <see cref="MaxBytes"/>, so a FIFO or <c>/dev/zero</c> named as a key is refused
/// at once instead of hanging or filling memory.
/// </summary>
public static class KeyFiles
{
    /// <summary>1 MiB: an RSA-16384 key in PEM is 13 KB, a certificate with a long chain a few tens of KB.</summary>
    public const int MaxBytes = 1 << 20;

    /// <param name="admit">Sees the opened file before it is read (a cluster checks its resolved path against its roots).</param>
    public static X509Certificate2 LoadCertificate(string path, string role, Action<RegularFile>? admit = null)
    {
        byte[] data = Read(path, role, admit);
        try
        {
            X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(data);
            if (certificate.GetRSAPublicKey() is null)
            {
                certificate.Dispose();
                throw new BundleException(BundleErrorKind.KeyMismatch, $"{role} '{path}' does not hold an RSA public key");
            }

            return certificate;
        }
        catch (CryptographicException ex)
        {
            throw new BundleException(BundleErrorKind.InvalidParameter, $"{role} '{path}' is not a PEM or DER X.509 certificate: {ex.Message}", ex);
        }
    }

    public static RSA LoadPrivateKey(string path, Action<RegularFile>? admit = null)
    {
        string pem;
        try
        {
            pem = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Read(path, "private key", admit));
        }
        catch (DecoderFallbackException ex)
        {
            throw new BundleException(BundleErrorKind.InvalidParameter, $"private key '{path}' is not PEM text", ex);
        }

        if (pem.Contains("ENCRYPTED", StringComparison.Ordinal))
        {
            throw new BundleException(BundleErrorKind.InvalidParameter,
                $"private key '{path}' is passphrase-protected; decrypt it first (openssl rsa -in KEY -out PLAIN-KEY)");
        }

        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return rsa;
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
            throw new BundleException(BundleErrorKind.InvalidParameter,
                $"private key '{path}' is not a PEM RSA private key (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)", ex);
        }
    }

    private static byte[] Read(string path, string role, Action<RegularFile>? admit)
    {
        using RegularFile file = RegularFile.Open(path, role, MaxBytes);
        admit?.Invoke(file);
        return file.ReadAllBytes();
    }
}
