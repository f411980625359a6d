using System.Security.Cryptography;

namespace BundleCluster.Format.Encryption;

/// <summary>
/// AES-128-CBC with PKCS#7 padding over a stream fed in pieces, byte-identical to
/// <c>openssl enc -e -aes-128-cbc -K … -iv …</c> (no Salted__ header). CBC encryption is sequential: each block is
/// chained to the previous ciphertext block, which is carried between calls.
/// </summary>
public sealed class CbcSealer : IDisposable
{
    public const int BlockSize = 16;

    private readonly Aes _aes;
    private readonly byte[] _chain = new byte[BlockSize];
    private readonly byte[] _carry = new byte[BlockSize];
    private int _carryLength;
    private bool _finished;

    public CbcSealer(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv)
    {
        if (key.Length != BlockSize || iv.Length != BlockSize)
        {
            throw new ArgumentException("AES-128-CBC needs a 16-byte key and a 16-byte IV");
        }

        _aes = Aes.Create();
        _aes.Key = key.ToArray();
        iv.CopyTo(_chain);
    }

    /// <summary>Ciphertext bytes one <see cref="Encrypt"/> call can produce at most for an input of that length.</summary>
    public static int MaxOutputLength(int inputLength) => inputLength + BlockSize;

    /// <summary>Encrypts the whole blocks available and returns the number of ciphertext bytes written.</summary>
    public int Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        int written = 0;
        if (_carryLength > 0)
        {
            int take = Math.Min(BlockSize - _carryLength, plaintext.Length);
            plaintext[..take].CopyTo(_carry.AsSpan(_carryLength));
            _carryLength += take;
            plaintext = plaintext[take..];
            if (_carryLength < BlockSize)
            {
                return 0;
            }

            written += EncryptBlocks(_carry, ciphertext);
            _carryLength = 0;
        }

        int whole = plaintext.Length / BlockSize * BlockSize;
        if (whole > 0)
        {
            written += EncryptBlocks(plaintext[..whole], ciphertext[written..]);
        }

        plaintext[whole..].CopyTo(_carry);
        _carryLength = plaintext.Length - whole;
        return written;
    }

    /// <summary>Pads the held bytes (PKCS#7, 1-16 bytes) and writes the last block; always 16 bytes.</summary>
    public int Finish(Span<byte> ciphertext)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        _finished = true;
        return _aes.EncryptCbc(_carry.AsSpan(0, _carryLength), _chain, ciphertext, PaddingMode.PKCS7);
    }

    private int EncryptBlocks(ReadOnlySpan<byte> blocks, Span<byte> ciphertext)
    {
        int n = _aes.EncryptCbc(blocks, _chain, ciphertext, PaddingMode.None);
        ciphertext.Slice(n - BlockSize, BlockSize).CopyTo(_chain);
        return n;
    }

    public void Dispose()
    {
        _aes.Dispose();
        CryptographicOperations.ZeroMemory(_chain);
        CryptographicOperations.ZeroMemory(_carry);
    }
}
