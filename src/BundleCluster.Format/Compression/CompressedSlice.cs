using System.Buffers;

namespace BundleCluster.Format.Compression;

/// <summary>A compressed slice held in a pooled buffer; dispose returns the buffer.</summary>
public sealed class CompressedSlice : IDisposable
{
    private byte[]? _buffer;

    internal CompressedSlice(byte[] buffer, DeflateSliceResult result)
    {
        _buffer = buffer;
        Result = result;
    }

    public DeflateSliceResult Result { get; }

    public ReadOnlyMemory<byte> Bytes =>
        (_buffer ?? throw new ObjectDisposedException(nameof(CompressedSlice))).AsMemory(0, Result.CompressedLength);

    public void Dispose()
    {
        byte[]? buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
