using System.Security.Cryptography;

namespace BundleCluster.Format.Keys;

/// <summary>
/// The AES-128-CBC key and IV of one bundle: 16 CSPRNG bytes each. Their canonical form is 32 lowercase hex
/// characters — that text, not the raw bytes, is what gets RSA-wrapped into the manifest (ec2-ami-tools bundle.rb).
/// Never log it or put it on a command line.
/// </summary>
public sealed class BundleKey : IDisposable
{
    private readonly byte[] _key;
    private readonly byte[] _iv;

    public BundleKey(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv)
    {
        if (key.Length != 16 || iv.Length != 16)
        {
            throw new ArgumentException("an AES-128 key and IV are 16 bytes each");
        }

        _key = key.ToArray();
        _iv = iv.ToArray();
    }

    public ReadOnlySpan<byte> Key => _key;

    public ReadOnlySpan<byte> Iv => _iv;

    public string KeyHex => Convert.ToHexStringLower(_key);

    public string IvHex => Convert.ToHexStringLower(_iv);

    public static BundleKey Generate() =>
        new(RandomNumberGenerator.GetBytes(16), RandomNumberGenerator.GetBytes(16));

    /// <summary>Parses the 32-hex-character forms (either case), as recovered from a manifest.</summary>
    public static BundleKey FromHex(string keyHex, string ivHex) =>
        new(ParseHex16(keyHex, "key"), ParseHex16(ivHex, "IV"));

    private static byte[] ParseHex16(string hex, string what)
    {
        if (hex.Length != 32 || !IsHex(hex))
        {
            throw new Errors.BundleException(Errors.BundleErrorKind.KeyMismatch,
                $"the decrypted bundle {what} is not 32 hex characters; the private key does not match the one used for bundling");
        }

        return Convert.FromHexString(hex);
    }

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    internal static bool IsHex(ReadOnlySpan<char> text) => !text.IsEmpty && !text.ContainsAnyExcept(HexDigits);

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_key);
        CryptographicOperations.ZeroMemory(_iv);
    }
}
