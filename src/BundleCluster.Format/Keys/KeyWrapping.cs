using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using BundleCluster.Format.Errors;

namespace BundleCluster.Format.Keys;

/// <summary>
/// RSA PKCS#1 v1.5 encryption of the key's hex text to a certificate, and the reverse with a private key
/// (ec2-ami-tools public_encrypt(…, PKCS1_PADDING); euca2ools openssl rsautl -encrypt -pkcs). Output is lowercase hex.
/// </summary>
public static class KeyWrapping
{
    public static string Wrap(string hexText, X509Certificate2 certificate)
    {
        using RSA rsa = certificate.GetRSAPublicKey()
            ?? throw new BundleException(BundleErrorKind.KeyMismatch, $"certificate '{certificate.Subject}' has no RSA public key");
        return Convert.ToHexStringLower(rsa.Encrypt(Encoding.ASCII.GetBytes(hexText), RSAEncryptionPadding.Pkcs1));
    }

    /// <summary>Decrypts a wrapped value; null when the key does not fit (so callers can try the other pair).</summary>
    public static string? TryUnwrap(string wrappedHex, RSA privateKey)
    {
        if (wrappedHex.Length == 0 || wrappedHex.Length % 2 != 0 || !BundleKey.IsHex(wrappedHex))
        {
            return null;
        }

        try
        {
            byte[] plain = privateKey.Decrypt(Convert.FromHexString(wrappedHex), RSAEncryptionPadding.Pkcs1);
            string text = Encoding.ASCII.GetString(plain).Trim();
            return text.Length == 32 && BundleKey.IsHex(text) ? text : null;
        }
        catch (CryptographicException)
        {
            return null;
        }
    }
}
