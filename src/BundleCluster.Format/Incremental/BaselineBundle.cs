using System.Buffers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Manifest;
using BundleCluster.Format.Unbundling;

namespace BundleCluster.Format.Incremental;

/// <summary>
/// A previous bundle of ours whose compressed slices a new bundle may take instead of compressing them again. Opening
/// it checks everything before any slice is used: the manifest's signature against the job's certificate, that the
/// job's private key unwraps its AES key, the index's signature and that it belongs to this manifest, the slicing and
/// level, and that every part is there at its length. Reading a slice reads the whole parts that hold it (each checked
/// against its SHA-1 in the signed manifest) and decrypts just the blocks needed: CBC decryption is random access, the
/// preceding ciphertext block being the IV.
/// </summary>
public sealed class BaselineBundle : IDisposable
{
    /// <summary>Parts kept verified in memory: the one being read, the one before it (for the chaining block), one ahead.</summary>
    private const int PartsHeld = 3;

    private readonly IPartSource _source;
    private readonly BundleManifest _manifest;
    private readonly BundleKey _key;
    private readonly long _bundledSize;
    private readonly Dictionary<int, Task<byte[]>> _parts = [];
    private readonly Aes _aes = Aes.Create();
    private long _bytesRead;

    private BaselineBundle(IPartSource source, BundleManifest manifest, BundleKey key, SliceIndex index, long bundledSize)
    {
        _source = source;
        _manifest = manifest;
        _key = key;
        _aes.Key = key.Key.ToArray();
        Index = index;
        _bundledSize = bundledSize;
    }

    public SliceIndex Index { get; }

    /// <summary>Bytes of the previous bundle's parts read so far (each part once, however many slices it holds).</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>
    /// Opens the bundle whose manifest is <paramref name="manifestFileName"/> in <paramref name="source"/> (which it then
    /// owns) for a job slicing at <paramref name="sliceSize"/> and compressing at <paramref name="level"/>. Throws a
    /// <see cref="BundleException"/> naming the first thing that makes it unusable.
    /// </summary>
    public static async Task<BaselineBundle> OpenAsync(IPartSource source, string manifestFileName, X509Certificate2 certificate,
        RSA privateKey, int sliceSize, int level, CancellationToken ct)
    {
        try
        {
            BundleManifest manifest = ManifestReader.Parse(await ReadFileAsync(source, manifestFileName, "manifest", ct).ConfigureAwait(false));
            if (!ManifestSignature.Verify(manifest, certificate))
            {
                throw new BundleException(BundleErrorKind.KeyMismatch, "its manifest's signature does not verify with the job's certificate");
            }

            string keyHex = KeyWrapping.TryUnwrap(manifest.Image.UserEncryptedKey, privateKey)
                ?? throw new BundleException(BundleErrorKind.KeyMismatch, "the job's private key cannot unwrap its AES key");
            string ivHex = KeyWrapping.TryUnwrap(manifest.Image.UserEncryptedIv, privateKey)
                ?? throw new BundleException(BundleErrorKind.KeyMismatch, "the job's private key cannot unwrap its AES IV");

            string indexName = SliceIndex.FileName(manifestFileName);
            if (await source.GetLengthAsync(indexName, ct).ConfigureAwait(false) is null)
            {
                throw new BundleException(BundleErrorKind.FileNotFound, $"it has no slice index '{indexName}' (bundles of other tools have none)");
            }

            using RSA publicKey = certificate.GetRSAPublicKey()
                ?? throw new BundleException(BundleErrorKind.KeyMismatch, "the job's certificate has no RSA public key");
            SliceIndex index = SliceIndexFile.Read(await ReadFileAsync(source, indexName, "slice index", ct).ConfigureAwait(false), publicKey);
            RequireSameBundle(index, manifest);
            if (index.SliceSize != sliceSize || index.CompressionLevel != level)
            {
                throw BundleException.InvalidParameter(
                    $"it was sliced at {index.SliceSize} bytes and compressed at level {index.CompressionLevel}, this job slices at {sliceSize} and level {level}");
            }

            long bundled = await RequirePartsAsync(source, manifest, ct).ConfigureAwait(false);
            if (bundled != index.GzipLength / 16 * 16 + 16)
            {
                throw BundleException.InvalidBundle($"its parts hold {bundled} bytes, not the {index.GzipLength / 16 * 16 + 16} its slice index describes");
            }

            return new BaselineBundle(source, manifest, BundleKey.FromHex(keyHex, ivHex), index, bundled);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>The index entry of slice <paramref name="slice"/>, if the previous bundle has one of that length.</summary>
    public SliceIndexEntry? Entry(int slice, int inputLength) =>
        slice < Index.Slices.Count && Index.Slices[slice].InputLength == inputLength ? Index.Slices[slice] : null;

    /// <summary>
    /// The compressed bytes of <paramref name="entry"/>, decrypted from the previous bundle's parts into a pooled buffer
    /// (returned to <see cref="ArrayPool{T}.Shared"/> by the caller): they are <c>Buffer[Offset..(Offset + entry.CompressedLength)]</c>.
    /// Calls must not overlap.
    /// </summary>
    public async Task<(byte[] Buffer, int Offset)> ReadSliceAsync(SliceIndexEntry entry, CancellationToken ct)
    {
        // Whole AES blocks from the one before the slice (the IV of its first block) to the one holding its last byte.
        long first = entry.GzipOffset / 16 * 16;
        long end = Math.Min(_bundledSize, (entry.GzipOffset + entry.CompressedLength + 15) / 16 * 16);
        long from = first - 16; // -16: the IV itself when the slice is in the first block
        int length = checked((int)(end - first));
        byte[] plain = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int partIndex = (int)(first / BundleFileNames.PartSize);
            int inPart = (int)(first % BundleFileNames.PartSize);
            if (from >= 0 && inPart >= 16 && inPart + length <= PartLength(partIndex))
            {
                // The usual case: the blocks and the one before them lie in one part; decrypt straight out of it.
                byte[] part = await PartAsync(partIndex, ct).ConfigureAwait(false);
                _aes.DecryptCbc(part.AsSpan(inPart, length), part.AsSpan(inPart - 16, 16), plain.AsSpan(0, length), PaddingMode.None);
            }
            else
            {
                byte[] cipher = ArrayPool<byte>.Shared.Rent(length + 16);
                try
                {
                    if (from < 0)
                    {
                        _key.Iv.CopyTo(cipher);
                        await CopyCiphertextAsync(0, cipher.AsMemory(16, length), ct).ConfigureAwait(false);
                    }
                    else
                    {
                        await CopyCiphertextAsync(from, cipher.AsMemory(0, length + 16), ct).ConfigureAwait(false);
                    }

                    _aes.DecryptCbc(cipher.AsSpan(16, length), cipher.AsSpan(0, 16), plain.AsSpan(0, length), PaddingMode.None);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(cipher);
                }
            }

            byte[] result = plain;
            plain = null!;
            return (result, (int)(entry.GzipOffset - first));
        }
        finally
        {
            if (plain is not null)
            {
                ArrayPool<byte>.Shared.Return(plain);
            }
        }
    }

    /// <summary>Copies ciphertext bytes [offset, offset + destination.Length) out of the verified parts that hold them.</summary>
    private async Task CopyCiphertextAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        while (!destination.IsEmpty)
        {
            int partIndex = (int)(offset / BundleFileNames.PartSize);
            int inPart = (int)(offset % BundleFileNames.PartSize);
            byte[] part = await PartAsync(partIndex, ct).ConfigureAwait(false);
            int take = Math.Min(destination.Length, PartLength(partIndex) - inPart);
            part.AsMemory(inPart, take).CopyTo(destination);
            destination = destination[take..];
            offset += take;
        }
    }

    /// <summary>A verified part, reading it (and starting on the next) if it is not held; parts behind are let go.</summary>
    private async Task<byte[]> PartAsync(int index, CancellationToken ct)
    {
        foreach (int held in _parts.Keys.Where(k => k < index - 1).ToList())
        {
            // Parts behind were awaited by the slices that read them; none is read any more.
            if (_parts.Remove(held, out Task<byte[]>? behind) && behind.IsCompletedSuccessfully)
            {
                ArrayPool<byte>.Shared.Return(behind.Result);
            }
        }

        if (!_parts.TryGetValue(index, out Task<byte[]>? part))
        {
            _parts[index] = part = ReadVerifiedPartAsync(index, ct);
        }

        if (index + 1 < _manifest.Image.Parts.Count && _parts.Count < PartsHeld && !_parts.ContainsKey(index + 1))
        {
            _parts[index + 1] = ReadVerifiedPartAsync(index + 1, ct); // read ahead: slices are taken in order
        }

        try
        {
            return await part.ConfigureAwait(false);
        }
        catch
        {
            _parts.Remove(index);
            throw;
        }
    }

    private int PartLength(int index) =>
        (int)Math.Min(BundleFileNames.PartSize, _bundledSize - (long)index * BundleFileNames.PartSize);

    private Task<byte[]> ReadVerifiedPartAsync(int index, CancellationToken ct) => Task.Run(async () =>
    {
        ManifestPart part = _manifest.Image.Parts[index];
        int length = PartLength(index);
        byte[] bytes = ArrayPool<byte>.Shared.Rent(length); // 10 MiB each: pooled, not a fresh large-object allocation per part
        try
        {
            await using (Stream stream = await _source.OpenAsync(part.FileName, length, ct).ConfigureAwait(false))
            {
                await stream.ReadExactlyAsync(bytes.AsMemory(0, length), ct).ConfigureAwait(false);
            }

            Interlocked.Add(ref _bytesRead, length);
#pragma warning disable CA5350 // the manifest format names each part by its SHA-1
            if (!string.Equals(Convert.ToHexStringLower(SHA1.HashData(bytes.AsSpan(0, length))), part.Sha1Hex, StringComparison.OrdinalIgnoreCase))
#pragma warning restore CA5350
            {
                throw BundleException.InvalidBundle($"its part '{part.FileName}' does not match its SHA-1 in the signed manifest");
            }

            return bytes;
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(bytes);
            throw;
        }
    }, ct);

    /// <summary>The index describes exactly this manifest's bundle: the same tar stream, the same parts in the same order.</summary>
    private static void RequireSameBundle(SliceIndex index, BundleManifest manifest)
    {
        bool same = string.Equals(index.TarDigestSha1Hex, manifest.Image.DigestSha1Hex, StringComparison.OrdinalIgnoreCase)
            && index.PartSha1Hex.Count == manifest.Image.Parts.Count
            && index.PartSha1Hex.Zip(manifest.Image.Parts).All(p => string.Equals(p.First, p.Second.Sha1Hex, StringComparison.OrdinalIgnoreCase));
        if (!same)
        {
            throw BundleException.InvalidBundle("its slice index belongs to another bundle (the tar digest or the parts differ from the manifest's)");
        }
    }

    /// <summary>Every part is there, at the length the index implies (all full 10 MiB parts but the last).</summary>
    private static async Task<long> RequirePartsAsync(IPartSource source, BundleManifest manifest, CancellationToken ct)
    {
        long total = 0;
        IReadOnlyList<ManifestPart> parts = manifest.Image.Parts;
        for (int i = 0; i < parts.Count; i++)
        {
            long length = await source.GetLengthAsync(parts[i].FileName, ct).ConfigureAwait(false)
                ?? throw new BundleException(BundleErrorKind.FileNotFound, $"its part '{parts[i].FileName}' is gone");
            if ((i < parts.Count - 1 && length != BundleFileNames.PartSize) || length is <= 0 or > BundleFileNames.PartSize || length % 16 != 0)
            {
                throw BundleException.InvalidBundle($"its part '{parts[i].FileName}' is {length} bytes, not what the bundle was cut into");
            }

            total += length;
        }

        return total;
    }

    private static async Task<byte[]> ReadFileAsync(IPartSource source, string name, string what, CancellationToken ct)
    {
        long length = await source.GetLengthAsync(name, ct).ConfigureAwait(false)
            ?? throw new BundleException(BundleErrorKind.FileNotFound, $"its {what} '{name}' does not exist in {source.Describe()}");
        var bytes = new byte[length];
        await using Stream stream = await source.OpenAsync(name, length, ct).ConfigureAwait(false);
        await stream.ReadExactlyAsync(bytes, ct).ConfigureAwait(false);
        return bytes;
    }

    public void Dispose()
    {
        // Parts still held go back to the pool only once their reads are over (a read ahead may still be running).
        foreach (Task<byte[]> part in _parts.Values)
        {
            part.ContinueWith(t => ArrayPool<byte>.Shared.Return(t.Result), CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        _parts.Clear();
        _aes.Dispose();
        _key.Dispose();
        _source.Dispose();
    }
}
