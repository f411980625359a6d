using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BundleCluster.Format.Compression;
using BundleCluster.Format.Errors;

namespace BundleCluster.Format.Incremental;

/// <summary>
/// One slice of a bundle's tar stream as its index records it: the SHA-256 of the slice's tar-stream bytes, where its
/// compressed bytes lie in the gzip stream (which is also their offset in the ciphertext: CBC adds no header), and the
/// CRC-32 and length the gzip trailer needs.
/// </summary>
public sealed record SliceIndexEntry(byte[] Sha256, long GzipOffset, int CompressedLength, uint Crc32, int InputLength);

/// <summary>
/// The sidecar index of a bundle we wrote (<c>PREFIX.manifest.xml.index</c>): how its tar stream was sliced and
/// compressed, and per slice what <see cref="SliceIndexEntry"/> says. It is bound to its manifest by the tar-stream
/// digest and the parts' SHA-1s, so it cannot be paired with another bundle's parts.
/// </summary>
public sealed record SliceIndex(
    int SliceSize,
    int CompressionLevel,
    long TarLength,
    string TarDigestSha1Hex,
    long GzipLength,
    IReadOnlyList<string> PartSha1Hex,
    IReadOnlyList<SliceIndexEntry> Slices)
{
    public const string Format = "bundlecluster-slice-index/1";

    /// <summary>The index's name beside its manifest.</summary>
    public static string FileName(string manifestFileName) => manifestFileName + ".index";

    /// <summary>
    /// Builds the index of a sealed bundle from its slices in order: the offsets follow from the lengths (the gzip header
    /// comes first), and the gzip length from the last slice (the final block and trailer come after it).
    /// </summary>
    public static SliceIndex Build(int sliceSize, int level, long tarLength, string tarDigestSha1Hex, IReadOnlyList<string> partSha1Hex,
        IEnumerable<(byte[] Sha256, int CompressedLength, uint Crc32, int InputLength)> slices)
    {
        var entries = new List<SliceIndexEntry>();
        long offset = GzipMemberFraming.HeaderLength;
        foreach ((byte[] sha256, int length, uint crc, int input) in slices)
        {
            entries.Add(new SliceIndexEntry(sha256, offset, length, crc, input));
            offset += length;
        }

        return new SliceIndex(sliceSize, level, tarLength, tarDigestSha1Hex.ToLowerInvariant(), offset + GzipMemberFraming.TrailerLength,
            partSha1Hex.Select(h => h.ToLowerInvariant()).ToList(), entries);
    }
}

/// <summary>
/// The index's file form, and the check that makes it trustworthy: line 1 is the index as compact JSON, line 2
/// <c>rsa-sha256 BASE64</c>, an RSA PKCS#1 v1.5 SHA-256 signature over line 1 by the identity that signed the
/// bundle's manifest. A reader verifies it with the certificate it verifies the manifest with, then checks that every
/// number is consistent (contiguous offsets, slice lengths, counts), so a forged or damaged index is refused before
/// any of its offsets is used. (Why a signature and not inflating reused slices: docs/incremental.md.)
/// </summary>
public static class SliceIndexFile
{
    /// <summary>Indexes beyond this are refused (that is ~80,000 slices: a 300 GiB image at 4 MiB slices).</summary>
    public const int MaxBytes = 10 << 20;

    private const string SignaturePrefix = "rsa-sha256 ";

    public static byte[] Write(SliceIndex index, RSA signingKey)
    {
        var body = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString("format", SliceIndex.Format);
            json.WriteNumber("sliceSize", index.SliceSize);
            json.WriteNumber("level", index.CompressionLevel);
            json.WriteNumber("tarLength", index.TarLength);
            json.WriteString("tarSha1", index.TarDigestSha1Hex);
            json.WriteNumber("gzipLength", index.GzipLength);
            json.WriteStartArray("parts");
            foreach (string sha1 in index.PartSha1Hex)
            {
                json.WriteStringValue(sha1);
            }

            json.WriteEndArray();
            // One array per slice: [sha256, gzipOffset, compressedLength, crc32, inputLength].
            json.WriteStartArray("slices");
            foreach (SliceIndexEntry slice in index.Slices)
            {
                json.WriteStartArray();
                json.WriteStringValue(Convert.ToHexStringLower(slice.Sha256));
                json.WriteNumberValue(slice.GzipOffset);
                json.WriteNumberValue(slice.CompressedLength);
                json.WriteNumberValue(slice.Crc32);
                json.WriteNumberValue(slice.InputLength);
                json.WriteEndArray();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        byte[] signature = signingKey.SignData(body.WrittenSpan, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        byte[] trailer = Encoding.ASCII.GetBytes($"\n{SignaturePrefix}{Convert.ToBase64String(signature)}\n");
        return [.. body.WrittenSpan, .. trailer];
    }

    /// <summary>Verifies the signature with <paramref name="publicKey"/>, then parses and checks the index; throws InvalidBundle/KeyMismatch.</summary>
    public static SliceIndex Read(ReadOnlySpan<byte> file, RSA publicKey)
    {
        if (file.Length > MaxBytes)
        {
            throw BundleException.InvalidBundle($"the slice index is {file.Length} bytes, more than the {MaxBytes} an index may have");
        }

        int newline = file.IndexOf((byte)'\n');
        if (newline < 0)
        {
            throw BundleException.InvalidBundle("the slice index has no signature line");
        }

        ReadOnlySpan<byte> body = file[..newline];
        string signatureLine = Encoding.ASCII.GetString(file[(newline + 1)..]).TrimEnd('\n');
        if (!signatureLine.StartsWith(SignaturePrefix, StringComparison.Ordinal) || signatureLine.Contains('\n'))
        {
            throw BundleException.InvalidBundle("the slice index's second line is not an rsa-sha256 signature");
        }

        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(signatureLine[SignaturePrefix.Length..]);
        }
        catch (FormatException)
        {
            throw BundleException.InvalidBundle("the slice index's signature is not base64");
        }

        bool verified;
        try
        {
            verified = publicKey.VerifyData(body, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }
        catch (CryptographicException)
        {
            verified = false;
        }

        if (!verified)
        {
            throw new BundleException(BundleErrorKind.KeyMismatch,
                "the slice index's signature does not verify with the job's certificate; it was altered or signed by another identity");
        }

        try
        {
            return Checked(Parse(body));
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or OverflowException or KeyNotFoundException)
        {
            throw BundleException.InvalidBundle($"the slice index is malformed ({ex.Message})");
        }
    }

    private static SliceIndex Parse(ReadOnlySpan<byte> body)
    {
        using JsonDocument document = JsonDocument.Parse(body.ToArray(), new JsonDocumentOptions { MaxDepth = 4 });
        JsonElement root = document.RootElement;
        if (root.GetProperty("format").GetString() != SliceIndex.Format)
        {
            throw BundleException.InvalidBundle($"the slice index is not in the format {SliceIndex.Format}");
        }

        var slices = new List<SliceIndexEntry>();
        foreach (JsonElement slice in root.GetProperty("slices").EnumerateArray())
        {
            if (slice.GetArrayLength() != 5)
            {
                throw BundleException.InvalidBundle("a slice of the slice index does not have its five fields");
            }

            string sha256 = slice[0].GetString()!;
            if (sha256.Length != 64)
            {
                throw BundleException.InvalidBundle("a slice's SHA-256 in the slice index is not 64 hex digits");
            }

            slices.Add(new SliceIndexEntry(Convert.FromHexString(sha256), slice[1].GetInt64(), slice[2].GetInt32(), slice[3].GetUInt32(), slice[4].GetInt32()));
        }

        return new SliceIndex(
            root.GetProperty("sliceSize").GetInt32(),
            root.GetProperty("level").GetInt32(),
            root.GetProperty("tarLength").GetInt64(),
            root.GetProperty("tarSha1").GetString()!,
            root.GetProperty("gzipLength").GetInt64(),
            root.GetProperty("parts").EnumerateArray().Select(p => p.GetString()!).ToList(),
            slices);
    }

    /// <summary>Every number agrees with every other: a signed index we wrote always passes; anything else is refused.</summary>
    private static SliceIndex Checked(SliceIndex index)
    {
        if (index.SliceSize <= 0 || index.CompressionLevel is < 1 or > 9 || index.TarLength <= 0
            || index.TarDigestSha1Hex.Length != 40 || !Keys.BundleKey.IsHex(index.TarDigestSha1Hex)
            || index.PartSha1Hex.Any(p => p.Length != 40 || !Keys.BundleKey.IsHex(p)))
        {
            throw BundleException.InvalidBundle("the slice index's header fields are out of range");
        }

        long expectedSlices = (index.TarLength + index.SliceSize - 1) / index.SliceSize;
        if (index.Slices.Count != expectedSlices)
        {
            throw BundleException.InvalidBundle($"the slice index lists {index.Slices.Count} slices where its tar length needs {expectedSlices}");
        }

        long offset = GzipMemberFraming.HeaderLength;
        long input = 0;
        for (int i = 0; i < index.Slices.Count; i++)
        {
            SliceIndexEntry slice = index.Slices[i];
            int expectedInput = (int)Math.Min(index.SliceSize, index.TarLength - input);
            if (slice.GzipOffset != offset || slice.InputLength != expectedInput || slice.CompressedLength <= 0
                || slice.CompressedLength > DeflateSlice.MaxCompressedLength(slice.InputLength))
            {
                throw BundleException.InvalidBundle($"slice {i} of the slice index does not follow the slice before it");
            }

            offset += slice.CompressedLength;
            input += slice.InputLength;
        }

        if (index.GzipLength != offset + GzipMemberFraming.TrailerLength)
        {
            throw BundleException.InvalidBundle("the slice index's gzip length does not match its slices");
        }

        long bundled = index.GzipLength / 16 * 16 + 16; // PKCS#7 always pads
        long parts = (bundled + BundleFileNames.PartSize - 1) / BundleFileNames.PartSize;
        if (index.PartSha1Hex.Count != parts)
        {
            throw BundleException.InvalidBundle($"the slice index lists {index.PartSha1Hex.Count} parts where its gzip length needs {parts}");
        }

        return index;
    }
}
