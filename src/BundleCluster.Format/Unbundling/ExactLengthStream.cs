using BundleCluster.Format.Errors;

namespace BundleCluster.Format.Unbundling;

/// <summary>
/// Reads exactly <paramref name="length"/> bytes of a stream and no more (an object that grew, or an endless one, is
/// cut off there); a stream that ends early is an error naming <paramref name="what"/>. Owns the inner stream.
/// </summary>
public sealed class ExactLengthStream(Stream inner, long length, string what) : ReadOnlyStream
{
    private long _position;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int want = (int)Math.Min(buffer.Length, length - _position);
        return want == 0 ? 0 : Advance(inner.Read(buffer[..want]));
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int want = (int)Math.Min(buffer.Length, length - _position);
        return want == 0 ? 0 : Advance(await inner.ReadAsync(buffer[..want], cancellationToken).ConfigureAwait(false));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Advance(int n)
    {
        if (n == 0)
        {
            throw new BundleException(BundleErrorKind.Failed, $"{what} ended after {_position} of its {length} bytes");
        }

        _position += n;
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
