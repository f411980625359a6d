using System.Buffers;

namespace BundleCluster.Format.Parts;

/// <summary>What the manifest records about one part.</summary>
public sealed record PartRecord(int Index, long Length, string Sha1Hex);

/// <summary>
/// One finished part: its ciphertext in a pooled buffer and its SHA-1. Whoever receives it owns it and must dispose it
/// once the bytes are durable.
/// </summary>
public sealed class SealedPart : IDisposable
{
    private byte[]? _buffer;

    internal SealedPart(int index, byte[] buffer, int length, string sha1Hex)
    {
        Index = index;
        _buffer = buffer;
        Length = length;
        Sha1Hex = sha1Hex;
    }

    public int Index { get; }

    public int Length { get; }

    public string Sha1Hex { get; }

    public ReadOnlyMemory<byte> Data => (_buffer ?? throw new ObjectDisposedException(nameof(SealedPart))).AsMemory(0, Length);

    public PartRecord ToRecord() => new(Index, Length, Sha1Hex);

    public void Dispose()
    {
        byte[]? buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
