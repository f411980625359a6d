using System.Buffers.Binary;

namespace BundleCluster.Format.Unbundling;

/// <summary>
/// Passes a stream through and keeps its last 8 bytes: the gzip trailer (CRC-32 and ISIZE, little-endian) of a
/// stream that is exactly one gzip member. Comparing it with what was actually decompressed refuses a missing
/// trailer, trailing garbage and an extra padding block, none of which the platform's GZipStream reports.
/// </summary>
internal sealed class TailKeepingStream(Stream inner) : ReadOnlyStream
{
    private readonly byte[] _tail = new byte[8];
    private long _total;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        Keep(buffer[..n]);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        int n = await inner.ReadAsync(buffer, ct).ConfigureAwait(false);
        Keep(buffer.Span[..n]);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    /// <summary>True when the last 8 bytes are the trailer of a member that decompressed to these bytes.</summary>
    public bool EndsWithTrailer(uint crc32, long uncompressedLength) =>
        _total >= 18 // a gzip member is at least a 10-byte header and an 8-byte trailer
        && BinaryPrimitives.ReadUInt32LittleEndian(_tail) == crc32
        && BinaryPrimitives.ReadUInt32LittleEndian(_tail.AsSpan(4)) == (uint)uncompressedLength;

    private void Keep(ReadOnlySpan<byte> data)
    {
        _total += data.Length;
        if (data.Length >= 8)
        {
            data[^8..].CopyTo(_tail);
            return;
        }

        // Shift the old tail left and append the few new bytes.
        _tail.AsSpan(data.Length).CopyTo(_tail);
        data.CopyTo(_tail.AsSpan(8 - data.Length));
    }
}
