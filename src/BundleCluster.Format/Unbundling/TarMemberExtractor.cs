using System.Buffers;
using System.Globalization;
using System.Text;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Manifest;

namespace BundleCluster.Format.Unbundling;

/// <summary>The member a bundle's tar stream held.</summary>
public sealed record ExtractedMember(string Name, long Size, bool Sparse);

/// <summary>
/// Reads a bundle's tar stream as untrusted input and extracts its one file member. Understands what GNU tar, Python's
/// tarfile and our writer produce: ustar and GNU headers, octal and GNU base-256 numbers, GNU long names ('L'), PAX
/// headers ('x'/'g': path, size) and old-GNU sparse members ('S' with extension blocks). Refuses links, devices,
/// directories, a second file member and any name that would leave the destination.
/// </summary>
public static class TarMemberExtractor
{
    private const int Block = 512;
    private const int MaxMetadataLength = 1024 * 1024;

    /// <summary>4 Mi regions (64 MiB of map): far beyond any real image's holes, and a bound on a hostile map's memory.</summary>
    private const int MaxSparseRegions = 4 << 20;

    /// <param name="input">The decompressed tar stream; read to its end so the caller can digest all of it.</param>
    /// <param name="openTarget">Opens the destination for the member's (validated) name.</param>
    /// <param name="maxImageSize">The image size the manifest declares; a larger member is refused.</param>
    public static async Task<ExtractedMember> ExtractAsync(
        Stream input, Func<string, IExtractTarget> openTarget, long maxImageSize, CancellationToken ct)
    {
        byte[] header = new byte[Block];
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1024 * 1024);
        try
        {
            ExtractedMember? member = null;
            string? longName = null;
            Dictionary<string, string>? pax = null;
            while (true)
            {
                if (!await ReadBlockAsync(input, header, ct).ConfigureAwait(false))
                {
                    // GNU tar always writes end blocks; a stream that stops right after the member is still complete.
                    return member ?? throw Invalid("the tar stream ends before any file member");
                }

                if (!header.AsSpan().ContainsAnyExcept((byte)0))
                {
                    await DrainAsync(input, buffer, ct).ConfigureAwait(false);
                    return member ?? throw Invalid("the tar stream holds no file member");
                }

                VerifyChecksum(header);
                byte type = header[156];
                long size = ParseNumber(header.AsSpan(124, 12), "size");
                switch (type)
                {
                    case (byte)'L':
                        longName = TrimNul(await ReadMetadataAsync(input, size, ct).ConfigureAwait(false));
                        continue;
                    case (byte)'K':
                        await ReadMetadataAsync(input, size, ct).ConfigureAwait(false);
                        continue;
                    case (byte)'x':
                        pax = ParsePax(await ReadMetadataAsync(input, size, ct).ConfigureAwait(false));
                        continue;
                    case (byte)'g':
                        await ReadMetadataAsync(input, size, ct).ConfigureAwait(false);
                        continue;
                    case (byte)'0' or 0 or (byte)'7' or (byte)'S':
                        break;
                    default:
                        throw Invalid($"the tar stream holds a member of type '{(char)type}'; a bundle holds one regular file");
                }

                if (member is not null)
                {
                    throw Invalid("the tar stream holds more than one file member; a bundle holds exactly one");
                }

                string name = pax?.GetValueOrDefault("path") ?? longName ?? HeaderName(header);
                if (pax?.TryGetValue("size", out string? paxSize) == true)
                {
                    size = ParseDecimal(paxSize, "PAX size");
                }

                if (pax?.Keys.Any(k => k.StartsWith("GNU.sparse", StringComparison.Ordinal)) == true)
                {
                    throw Invalid("the tar member uses PAX sparse format; only old-GNU sparse members (GNU tar -S, format gnu) are supported");
                }

                string safeName = SafeMemberName(name);
                member = type == (byte)'S'
                    ? await ExtractSparseAsync(input, header, size, safeName, openTarget, maxImageSize, buffer, ct).ConfigureAwait(false)
                    : await ExtractRegularAsync(input, size, safeName, openTarget, maxImageSize, buffer, ct).ConfigureAwait(false);
                longName = null;
                pax = null;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<ExtractedMember> ExtractRegularAsync(Stream input, long size, string name,
        Func<string, IExtractTarget> openTarget, long maxImageSize, byte[] buffer, CancellationToken ct)
    {
        RequireWithin(size, maxImageSize);
        await using IExtractTarget target = openTarget(name);
        await CopyAsync(input, target, 0, size, buffer, ct).ConfigureAwait(false);
        target.SetLength(size);
        await SkipAsync(input, Padding(size), buffer, ct).ConfigureAwait(false);
        return new ExtractedMember(name, size, Sparse: false);
    }

    /// <summary>
    /// Old-GNU sparse: the header holds up to 4 (offset, length) regions at 386, an "extended" flag at 482 and the real
    /// size at 483; each extension block holds 21 more regions and its own flag at 504. The member data is the regions'
    /// bytes, concatenated.
    /// </summary>
    private static async Task<ExtractedMember> ExtractSparseAsync(Stream input, byte[] header, long storedSize, string name,
        Func<string, IExtractTarget> openTarget, long maxImageSize, byte[] buffer, CancellationToken ct)
    {
        long realSize = ParseNumber(header.AsSpan(483, 12), "sparse real size");
        RequireWithin(realSize, maxImageSize);
        var regions = new List<(long Offset, long Length)>();
        AddRegions(header.AsSpan(386, 4 * 24), regions);
        bool extended = header[482] != 0;
        if (storedSize > realSize)
        {
            throw Invalid($"the sparse member stores {storedSize} bytes but claims a size of only {realSize}");
        }

        byte[] extension = new byte[Block];
        while (extended)
        {
            if (!await ReadBlockAsync(input, extension, ct).ConfigureAwait(false))
            {
                throw Invalid("the tar stream ends inside a sparse map");
            }

            AddRegions(extension.AsSpan(0, 21 * 24), regions);
            extended = extension[504] != 0;
            if (regions.Count > MaxSparseRegions)
            {
                throw Invalid($"the sparse map lists more than {MaxSparseRegions} regions");
            }

        }

        long stored = 0;
        foreach ((long offset, long length) in regions)
        {
            // Compared by subtraction: offset + length of two huge values would overflow and pass.
            if (offset < 0 || length < 0 || offset > realSize || length > realSize - offset)
            {
                throw Invalid($"a sparse region ({offset}, {length}) lies outside the member's {realSize} bytes");
            }

            stored += length;
            if (stored > storedSize)
            {
                throw Invalid($"the sparse map describes more than the {storedSize} bytes the member stores");
            }
        }

        if (stored != storedSize)
        {
            throw Invalid($"the sparse map describes {stored} bytes but the member stores {storedSize}");
        }

        await using IExtractTarget target = openTarget(name);
        foreach ((long offset, long length) in regions)
        {
            await CopyAsync(input, target, offset, length, buffer, ct).ConfigureAwait(false);
        }

        target.SetLength(realSize);
        await SkipAsync(input, Padding(storedSize), buffer, ct).ConfigureAwait(false);
        return new ExtractedMember(name, realSize, Sparse: true);
    }

    private static void AddRegions(ReadOnlySpan<byte> entries, List<(long, long)> regions)
    {
        for (int i = 0; i + 24 <= entries.Length; i += 24)
        {
            if (entries[i] == 0)
            {
                break; // an empty slot ends the list
            }

            regions.Add((ParseNumber(entries.Slice(i, 12), "sparse offset"), ParseNumber(entries.Slice(i + 12, 12), "sparse length")));
        }
    }

    private static async Task CopyAsync(Stream input, IExtractTarget target, long offset, long length, byte[] buffer, CancellationToken ct)
    {
        long done = 0;
        while (done < length)
        {
            int want = (int)Math.Min(buffer.Length, length - done);
            int n = await input.ReadAtLeastAsync(buffer.AsMemory(0, want), want, throwOnEndOfStream: false, ct).ConfigureAwait(false);
            if (n < want)
            {
                throw Invalid($"the tar stream ends inside the member's data ({done + n} of {length} bytes)");
            }

            await target.WriteAtAsync(offset + done, buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            done += n;
        }
    }

    private static async Task SkipAsync(Stream input, long length, byte[] buffer, CancellationToken ct)
    {
        long done = 0;
        while (done < length)
        {
            int want = (int)Math.Min(buffer.Length, length - done);
            int n = await input.ReadAtLeastAsync(buffer.AsMemory(0, want), want, throwOnEndOfStream: false, ct).ConfigureAwait(false);
            if (n == 0)
            {
                return; // padding missing at the very end; the digest check decides whether that matters
            }

            done += n;
        }
    }

    private static async Task DrainAsync(Stream input, byte[] buffer, CancellationToken ct)
    {
        while (await input.ReadAsync(buffer, ct).ConfigureAwait(false) > 0)
        {
        }
    }

    private static async Task<bool> ReadBlockAsync(Stream input, byte[] block, CancellationToken ct)
    {
        int n = await input.ReadAtLeastAsync(block, Block, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        if (n == 0)
        {
            return false;
        }

        return n == Block ? true : throw Invalid("the tar stream ends inside a header block");
    }

    private static async Task<byte[]> ReadMetadataAsync(Stream input, long size, CancellationToken ct)
    {
        if (size > MaxMetadataLength)
        {
            throw Invalid($"a tar metadata record of {size} bytes is larger than any bundle needs");
        }

        byte[] data = new byte[(int)size];
        byte[] pad = new byte[Padding(size)];
        // Found by fuzzing: a stream cut inside a record is the bundle's fault, not an EndOfStreamException.
        if (await input.ReadAtLeastAsync(data, data.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false) < data.Length
            || await input.ReadAtLeastAsync(pad, pad.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false) < pad.Length)
        {
            throw Invalid("the tar stream ends inside a metadata record (long name or PAX header)");
        }

        return data;
    }

    private static Dictionary<string, string> ParsePax(byte[] data)
    {
        // Records are "<length> <key>=<value>\n", the length counting the whole record.
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        int pos = 0;
        while (pos < data.Length)
        {
            int space = Array.IndexOf(data, (byte)' ', pos);
            if (space < 0 || !int.TryParse(Encoding.ASCII.GetString(data, pos, space - pos), NumberStyles.None, CultureInfo.InvariantCulture, out int length)
                || length < space - pos + 2 || pos + length > data.Length || data[pos + length - 1] != (byte)'\n')
            {
                throw Invalid("a PAX extended header is malformed");
            }

            string record = Encoding.UTF8.GetString(data, space + 1, pos + length - space - 2);
            int eq = record.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                values[record[..eq]] = record[(eq + 1)..];
            }

            pos += length;
        }

        return values;
    }

    private static string HeaderName(byte[] header)
    {
        string name = TrimNul(header.AsSpan(0, 100).ToArray());
        // POSIX ustar ("ustar\0" magic) keeps a 155-byte path prefix at 345; GNU headers use that space otherwise.
        if (header.AsSpan(257, 6).SequenceEqual("ustar\0"u8))
        {
            string prefix = TrimNul(header.AsSpan(345, 155).ToArray());
            if (prefix.Length > 0)
            {
                name = prefix + "/" + name;
            }
        }

        return name;
    }

    /// <summary>The member's name as a bare file name inside the destination; anything else is refused.</summary>
    public static string SafeMemberName(string name)
    {
        string trimmed = name;
        while (trimmed.StartsWith("./", StringComparison.Ordinal))
        {
            trimmed = trimmed[2..];
        }

        if (trimmed.StartsWith('/') || trimmed.Split('/').Contains("..") || !ManifestReader.IsBareFileName(trimmed))
        {
            throw Invalid($"the tar member '{name}' would be written outside the destination directory; only a bare file name is accepted");
        }

        return trimmed;
    }

    private static void VerifyChecksum(byte[] header)
    {
        long stored = ParseNumber(header.AsSpan(148, 8), "checksum");
        long unsignedSum = 0;
        long signedSum = 0;
        for (int i = 0; i < Block; i++)
        {
            byte b = i is >= 148 and < 156 ? (byte)' ' : header[i];
            unsignedSum += b;
            signedSum += (sbyte)b;
        }

        if (stored != unsignedSum && stored != signedSum)
        {
            throw Invalid("a tar header's checksum does not match; the tar stream is corrupt");
        }
    }

    /// <summary>Octal (space- or NUL-terminated) or GNU base-256 (high bit of the first byte set).</summary>
    internal static long ParseNumber(ReadOnlySpan<byte> field, string what)
    {
        if ((field[0] & 0x80) != 0)
        {
            if ((field[0] & 0x40) != 0)
            {
                throw Invalid($"the tar {what} is negative");
            }

            long value = field[0] & 0x3F;
            foreach (byte b in field[1..])
            {
                if (value > (long.MaxValue >> 8))
                {
                    throw Invalid($"the tar {what} is too large");
                }

                value = (value << 8) | b;
            }

            return value;
        }

        long octal = 0;
        bool digits = false;
        foreach (byte b in field)
        {
            if (b is (byte)' ' or 0)
            {
                if (digits)
                {
                    break;
                }

                continue;
            }

            if (b is < (byte)'0' or > (byte)'7' || octal > (long.MaxValue >> 3))
            {
                throw Invalid($"the tar {what} field is not an octal number");
            }

            octal = (octal << 3) | (long)(b - '0');
            digits = true;
        }

        return octal;
    }

    private static long ParseDecimal(string text, string what) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : throw Invalid($"the {what} '{text}' is not a number");

    private static long Padding(long size) => (Block - (size % Block)) % Block;

    private static void RequireWithin(long size, long maxImageSize)
    {
        if (size > maxImageSize)
        {
            throw Invalid($"the tar member holds {size} bytes but the manifest's size is {maxImageSize}; the manifest or the bundle lies");
        }
    }

    private static string TrimNul(byte[] data)
    {
        int end = Array.IndexOf(data, (byte)0);
        return Encoding.UTF8.GetString(data, 0, end < 0 ? data.Length : end);
    }

    private static BundleException Invalid(string message) => BundleException.InvalidBundle(message);
}
