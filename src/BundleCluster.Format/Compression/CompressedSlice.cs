using System.Buffers;

namespace BundleCluster.Format.Compression;

/// <summary>A compressed slice held in a pooled buffer (dispose returns it) or in a shared one (dispose does nothing).</summary>
public sealed class CompressedSlice : IDisposable
{
    private readonly bool _pooled;
    private byte[]? _buffer;

    internal CompressedSlice(byte[] buffer, DeflateSliceResult result, bool pooled = true)
    {
        _buffer = buffer;
        Result = result;
        _pooled = pooled;
    }

    internal static CompressedSlice Shared(byte[] buffer, DeflateSliceResult result) => new(buffer, result, pooled: false);

    public DeflateSliceResult Result { get; }

    public ReadOnlyMemory<byte> Bytes =>
        (_buffer ?? throw new ObjectDisposedException(nameof(CompressedSlice))).AsMemory(0, Result.CompressedLength);

    public void Dispose()
    {
        byte[]? buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null && _pooled)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
