using System.Security.Cryptography;
using BundleCluster.Format.Errors;

namespace BundleCluster.Format.Unbundling;

/// <summary>
/// Passes a stream through while computing its SHA-1 and length; refuses to produce more than a limit, so a
/// decompression bomb or a manifest that understates the image size cannot fill the disk.
/// </summary>
internal sealed class DigestingReadStream(Stream inner, long limit, string limitMessage) : ReadOnlyStream
{
    private readonly IncrementalHash _sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
    private readonly System.IO.Hashing.Crc32 _crc32 = new();

    public long BytesRead { get; private set; }

    public string Sha1Hex() => Convert.ToHexStringLower(_sha1.GetCurrentHash());

    /// <summary>The CRC-32 of everything read, as a gzip trailer records it.</summary>
    public uint Crc32 => _crc32.GetCurrentHashAsUInt32();

    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        Account(buffer[..n]);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        int n = await inner.ReadAsync(buffer, ct).ConfigureAwait(false);
        Account(buffer.Span[..n]);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    private void Account(ReadOnlySpan<byte> data)
    {
        BytesRead += data.Length;
        if (BytesRead > limit)
        {
            throw BundleException.InvalidBundle(limitMessage);
        }

        _sha1.AppendData(data);
        _crc32.Append(data);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _sha1.Dispose();
        }

        base.Dispose(disposing);
    }
}
