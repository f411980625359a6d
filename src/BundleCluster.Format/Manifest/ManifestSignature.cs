using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using BundleCluster.Format.Errors;

namespace BundleCluster.Format.Manifest;

/// <summary>
/// RSA PKCS#1 v1.5 with SHA-1 over the literal text from <c>&lt;machine_configuration&gt;</c> to its end tag followed
/// immediately by the literal text from <c>&lt;image&gt;</c> to <c>&lt;/image&gt;</c>, as ec2-ami-tools and Eucalyptus
/// take them. Signing cuts the text we just wrote; verifying uses <see cref="BundleManifest.SignedText"/>, which the
/// reader cut at the positions of the elements it parsed — never the first textual match, which a comment or CDATA
/// section could supply (signature wrapping).
/// </summary>
public static class ManifestSignature
{
    public static string Sign(string manifestText, RSA privateKey)
    {
        byte[] signed = SignedBytes(manifestText);
        try
        {
            return Convert.ToHexStringLower(privateKey.SignData(signed, HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1));
        }
        catch (CryptographicException ex)
        {
            throw new BundleException(BundleErrorKind.KeyMismatch,
                $"cannot sign the manifest with RSA-SHA1 ({ex.Message}); the bundle format requires SHA-1 signatures, which this system's OpenSSL policy may refuse", ex);
        }
    }

    /// <summary>True when the manifest's signature is the certificate's signature over the text it was parsed from.</summary>
    public static bool Verify(BundleManifest manifest, X509Certificate2 certificate)
    {
        string signatureHex = manifest.Signature;
        if (manifest.SignedText.Length == 0 || signatureHex.Length == 0 || signatureHex.Length % 2 != 0 || !Keys.BundleKey.IsHex(signatureHex))
        {
            return false;
        }

        using RSA rsa = certificate.GetRSAPublicKey()
            ?? throw new BundleException(BundleErrorKind.KeyMismatch, "the certificate has no RSA public key");
        try
        {
            return rsa.VerifyData(Encoding.UTF8.GetBytes(manifest.SignedText), Convert.FromHexString(signatureHex), HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>
    /// The bytes a signature covers in text we wrote ourselves (one line, no comments: the first match is the
    /// element). Untrusted text goes through <see cref="ManifestReader"/> instead.
    /// </summary>
    private static byte[] SignedBytes(string manifestText) =>
        Encoding.UTF8.GetBytes(Substring(manifestText, "machine_configuration") + Substring(manifestText, "image"));

    private static string Substring(string text, string element)
    {
        string start = $"<{element}>";
        string end = $"</{element}>";
        int from = text.IndexOf(start, StringComparison.Ordinal);
        int to = from < 0 ? -1 : text.IndexOf(end, from, StringComparison.Ordinal);
        if (from < 0 || to < 0)
        {
            throw BundleException.InvalidBundle($"the manifest has no <{element}> element to sign or verify");
        }

        return text[from..(to + end.Length)];
    }
}
