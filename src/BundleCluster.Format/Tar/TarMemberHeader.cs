using System.Text;

namespace BundleCluster.Format.Tar;

/// <summary>
/// Builds the header block(s) of the one regular-file member a bundle's tar stream holds, as GNU tar writes it for
/// <c>tar -c -h --owner 0 --group 0</c>: GNU magic, mode 0644, uid/gid 0, owner names "root".
/// </summary>
public static class TarMemberHeader
{
    public const int BlockSize = 512;

    /// <summary>The largest size the 11-digit octal field holds (8 GiB - 1); larger sizes use GNU base-256.</summary>
    public const long MaxOctalSize = 0x1_FFFF_FFFFL;

    private const int NameFieldLength = 100;

    /// <summary>Returns the header bytes: a GNU long-name block pair when the name exceeds 100 bytes, then the header.</summary>
    public static byte[] Build(string memberName, long size, long mtimeUnixSeconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        byte[] name = Encoding.UTF8.GetBytes(memberName);
        if (name.Length <= NameFieldLength)
        {
            var header = new byte[BlockSize];
            WriteHeader(header, name, size, mtimeUnixSeconds, (byte)'0');
            return header;
        }

        // GNU tar stores a long name as a "././@LongLink" member of type 'L' whose data is the NUL-terminated name.
        int nameData = name.Length + 1;
        int nameBlocks = (nameData + BlockSize - 1) / BlockSize;
        var blocks = new byte[BlockSize * (2 + nameBlocks)];
        WriteHeader(blocks.AsSpan(0, BlockSize), "././@LongLink"u8, nameData, 0, (byte)'L');
        name.CopyTo(blocks, BlockSize);
        WriteHeader(blocks.AsSpan(BlockSize * (1 + nameBlocks), BlockSize), name.AsSpan(0, NameFieldLength), size,
            mtimeUnixSeconds, (byte)'0');
        return blocks;
    }

    private static void WriteHeader(Span<byte> block, ReadOnlySpan<byte> name, long size, long mtime, byte typeFlag)
    {
        block.Clear();
        name.CopyTo(block);
        WriteOctal(block.Slice(100, 8), 0b110_100_100); // mode 0644
        WriteOctal(block.Slice(108, 8), 0);             // uid
        WriteOctal(block.Slice(116, 8), 0);             // gid
        if (size <= MaxOctalSize)
        {
            WriteOctal(block.Slice(124, 12), size);
        }
        else
        {
            WriteBase256(block.Slice(124, 12), size);
        }

        WriteOctal(block.Slice(136, 12), Math.Max(0, mtime));
        block[156] = typeFlag;
        "ustar  \0"u8.CopyTo(block[257..]);             // GNU magic + version
        if (typeFlag != (byte)'L')
        {
            "root"u8.CopyTo(block[265..]);
            "root"u8.CopyTo(block[297..]);
        }

        // The checksum is computed with its own field read as eight spaces, then stored as 6 octal digits, NUL, space.
        block.Slice(148, 8).Fill((byte)' ');
        long sum = 0;
        foreach (byte b in block)
        {
            sum += b;
        }

        WriteOctal(block.Slice(148, 7), sum);
        block[155] = (byte)' ';
    }

    /// <summary>Zero-padded octal digits filling all but the last byte of the field, then NUL.</summary>
    private static void WriteOctal(Span<byte> field, long value)
    {
        int digits = field.Length - 1;
        for (int i = digits - 1; i >= 0; i--)
        {
            field[i] = (byte)('0' + (value & 7));
            value >>= 3;
        }

        if (value != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), "value does not fit the octal tar field");
        }

        field[digits] = 0;
    }

    /// <summary>GNU base-256: the high bit of the first byte set, the value big-endian in the remaining bytes.</summary>
    private static void WriteBase256(Span<byte> field, long value)
    {
        field.Clear();
        for (int i = field.Length - 1; i > 0 && value != 0; i--)
        {
            field[i] = (byte)(value & 0xFF);
            value >>= 8;
        }

        field[0] = 0x80;
    }
}
