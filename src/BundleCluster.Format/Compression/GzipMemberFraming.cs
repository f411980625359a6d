using System.Buffers.Binary;

namespace BundleCluster.Format.Compression;

/// <summary>
/// Frames compressed slices, fed in order, as ONE gzip member (RFC 1952): a fixed header, the slices, the final empty
/// deflate block, then CRC-32 (combined from the slices' CRCs) and ISIZE (input length mod 2^32).
/// </summary>
public sealed class GzipMemberFraming
{
    public const int HeaderLength = 10;
    public const int TrailerLength = 2 + 8;

    private uint _crc;
    private long _inputLength;

    /// <summary>The 10-byte header gzip writes for a stream (no name, mtime 0, OS = Unix), XFL set as gzip sets it.</summary>
    public static byte[] Header(int level) =>
        [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, level == 9 ? (byte)2 : level == 1 ? (byte)4 : (byte)0, 3];

    public GzipMemberFraming()
    {
    }

    /// <summary>Continues a member whose first slices were framed before (a resumed sealer).</summary>
    public GzipMemberFraming(uint crcSoFar, long inputLengthSoFar)
    {
        _crc = crcSoFar;
        _inputLength = inputLengthSoFar;
    }

    public long InputLength => _inputLength;

    public uint Crc32 => _crc;

    /// <summary>Accounts for the next slice; slices must be added in tar-stream order.</summary>
    public void AddSlice(uint sliceCrc32, long sliceInputLength)
    {
        _crc = Crc32Combine.Combine(_crc, sliceCrc32, sliceInputLength); // crc of the empty prefix is 0
        _inputLength += sliceInputLength;
    }

    /// <summary>The final deflate block plus the gzip trailer.</summary>
    public byte[] Trailer()
    {
        var trailer = new byte[TrailerLength];
        DeflateSlice.FinalBlock.CopyTo(trailer);
        BinaryPrimitives.WriteUInt32LittleEndian(trailer.AsSpan(2), _crc);
        BinaryPrimitives.WriteUInt32LittleEndian(trailer.AsSpan(6), unchecked((uint)_inputLength));
        return trailer;
    }
}
