using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BundleCluster.Format.Errors;

namespace BundleCluster.Format.Keys;

/// <summary>
/// Loads PEM certificates and RSA private keys with errors a user can act on. Certificate dates and chains are never
/// checked: Amazon's shipped cloud certificate expired in 2006 and the original tools never looked.
/// </summary>
public static class KeyFiles
{
    public static X509Certificate2 LoadCertificate(string path, string role)
    {
        RequireFile(path, role);
        try
        {
            X509Certificate2 certificate = X509CertificateLoader.LoadCertificateFromFile(path);
            if (certificate.GetRSAPublicKey() is null)
            {
                throw new BundleException(BundleErrorKind.KeyMismatch, $"{role} '{path}' does not hold an RSA public key");
            }

            return certificate;
        }
        catch (CryptographicException ex)
        {
            throw new BundleException(BundleErrorKind.InvalidParameter, $"{role} '{path}' is not a PEM or DER X.509 certificate: {ex.Message}", ex);
        }
    }

    public static RSA LoadPrivateKey(string path)
    {
        RequireFile(path, "private key");
        string pem = File.ReadAllText(path);
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

    public static void RequireFile(string path, string role)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new BundleException(BundleErrorKind.InvalidParameter, $"no {role} was given");
        }

        if (!File.Exists(path))
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"{role} '{path}' does not exist");
        }
    }
}
