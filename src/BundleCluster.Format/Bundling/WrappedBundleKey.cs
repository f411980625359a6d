using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Keys;

namespace BundleCluster.Format.Bundling;

/// <summary>
/// A bundle key as the manifest carries it: key and IV each wrapped to the cloud and to the user certificate. This is
/// the only form in which a key may be persisted.
/// </summary>
public sealed record WrappedBundleKey(string Ec2EncryptedKey, string UserEncryptedKey, string Ec2EncryptedIv, string UserEncryptedIv)
{
    public static WrappedBundleKey Wrap(BundleKey key, X509Certificate2 userCertificate, X509Certificate2 cloudCertificate) =>
        new(KeyWrapping.Wrap(key.KeyHex, cloudCertificate), KeyWrapping.Wrap(key.KeyHex, userCertificate),
            KeyWrapping.Wrap(key.IvHex, cloudCertificate), KeyWrapping.Wrap(key.IvHex, userCertificate));

    /// <summary>Recovers the key with the user's private key (a resumed job does this instead of storing it).</summary>
    public BundleKey Unwrap(RSA userPrivateKey) =>
        KeyWrapping.TryUnwrap(UserEncryptedKey, userPrivateKey) is { } key
        && KeyWrapping.TryUnwrap(UserEncryptedIv, userPrivateKey) is { } iv
            ? BundleKey.FromHex(key, iv)
            : throw new BundleException(BundleErrorKind.KeyMismatch, "the private key does not decrypt this job's bundle key");
}
