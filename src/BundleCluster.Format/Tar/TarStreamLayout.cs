namespace BundleCluster.Format.Tar;

/// <summary>
/// The exact byte layout of the tar stream that wraps an image: computed header, image data, zero padding to the
/// 512-byte block, two zero end blocks, and zero padding to a whole 10240-byte record (GNU tar's default blocking
/// factor; the image digest covers all of it). Nothing but the image data needs to be read.
/// </summary>
public sealed class TarStreamLayout
{
    public const int RecordSize = 10240;
    private const int EndOfArchiveLength = 2 * TarMemberHeader.BlockSize;

    private readonly byte[] _header;

    public TarStreamLayout(string memberName, long imageSize, long mtimeUnixSeconds)
    {
        MemberName = memberName;
        ImageSize = imageSize;
        MtimeUnixSeconds = mtimeUnixSeconds;
        _header = TarMemberHeader.Build(memberName, imageSize, mtimeUnixSeconds);
        long dataEnd = DataOffset + RoundUp(imageSize, TarMemberHeader.BlockSize);
        Length = RoundUp(dataEnd + EndOfArchiveLength, RecordSize);
    }

    public string MemberName { get; }

    public long ImageSize { get; }

    public long MtimeUnixSeconds { get; }

    /// <summary>Offset of the first image byte in the tar stream.</summary>
    public long DataOffset => _header.Length;

    /// <summary>Total tar stream length, a multiple of 10240.</summary>
    public long Length { get; }

    /// <summary>
    /// Fills <paramref name="destination"/> with the tar stream bytes starting at <paramref name="offset"/>, reading
    /// only the image bytes that range covers.
    /// </summary>
    public async ValueTask ReadAsync(IImageReader image, long offset, Memory<byte> destination, CancellationToken ct)
    {
        if (offset < 0 || offset + destination.Length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{destination.Length} is outside the tar stream of {Length} bytes");
        }

        long position = offset;
        int written = 0;
        while (written < destination.Length)
        {
            Memory<byte> rest = destination[written..];
            int n;
            if (position < DataOffset)
            {
                n = (int)Math.Min(rest.Length, DataOffset - position);
                _header.AsSpan((int)position, n).CopyTo(rest.Span);
            }
            else if (position < DataOffset + ImageSize)
            {
                n = (int)Math.Min(rest.Length, DataOffset + ImageSize - position);
                if (image.IsHole(position - DataOffset, n))
                {
                    rest.Span[..n].Clear(); // a hole reads as zeros; no need to ask the kernel for them
                }
                else
                {
                    await image.ReadExactlyAtAsync(position - DataOffset, rest[..n], ct).ConfigureAwait(false);
                }
            }
            else
            {
                n = rest.Length; // member padding, end blocks and record padding are all zeros
                rest.Span.Clear();
            }

            written += n;
            position += n;
        }
    }

    /// <summary>
    /// True when the range is known to be all zeros without reading it: it covers no header byte, and its image bytes
    /// (if any) lie in a hole; member padding, end blocks and record padding are zeros by construction.
    /// </summary>
    public bool IsKnownZero(IImageReader image, long offset, long length)
    {
        if (offset < DataOffset)
        {
            return false;
        }

        long imageEnd = DataOffset + ImageSize;
        long dataLength = Math.Min(offset + length, imageEnd) - offset;
        return dataLength <= 0 || image.IsHole(offset - DataOffset, dataLength);
    }

    internal static long RoundUp(long value, long multiple) => (value + multiple - 1) / multiple * multiple;
}
