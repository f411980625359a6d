using System.Buffers;
using BundleCluster.Format.Compression;
using BundleCluster.Format.Encryption;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Parts;

namespace BundleCluster.Format.Bundling;

/// <summary>The sealed bundle's shape, known once the last slice went through.</summary>
public sealed record SealResult(IReadOnlyList<PartRecord> Parts, long BundledSize, long GzipLength, long TarLength);

/// <summary>
/// Where a sealer can pick up after its first parts are durable: at a part boundary the CBC carry is empty, so the
/// state is the last ciphertext block (the chain), how much of the gzip stream is behind, and the gzip framing of
/// the slices wholly behind it.
/// </summary>
public sealed record SealerResumePoint(IReadOnlyList<PartRecord> PartsDone, byte[] ChainBlock, long GzipOffset, uint CrcOfWholeSlices, long InputOfWholeSlices);

/// <summary>
/// The sequential heart of a bundle: takes compressed slices in tar-stream order, frames them as one gzip member,
/// encrypts with AES-128-CBC, cuts 10 MiB parts and hands each to <paramref name="onPart"/> (which owns and disposes it).
/// Given a <paramref name="resume"/> point it continues a bundle whose first parts are already written.
/// </summary>
public sealed class BundleSealer(BundleKey key, int compressionLevel, Func<SealedPart, CancellationToken, ValueTask> onPart,
    SealerResumePoint? resume = null) : IDisposable
{
    private readonly CbcSealer _cbc = new(key.Key, resume is null ? key.Iv : resume.ChainBlock);
    private readonly GzipMemberFraming _gzip = resume is null ? new() : new(resume.CrcOfWholeSlices, resume.InputOfWholeSlices);
    private readonly PartCutter _cutter = new(onPart, partsDone: resume?.PartsDone);
    private long _gzipLength = resume?.GzipOffset ?? 0;
    private bool _started = resume is not null;

    /// <summary>Bytes of the gzip stream (header included) taken in so far.</summary>
    public long GzipLength => _gzipLength;

    /// <summary>CRC-32 and length of the tar stream of the slices accounted so far.</summary>
    public (uint Crc32, long InputLength) Framing => (_gzip.Crc32, _gzip.InputLength);

    public long TarBytesSealed => _gzip.InputLength;

    public long CiphertextBytes => _cutter.BytesWritten;

    public int PartsCut => _cutter.Parts.Count;

    /// <summary>Appends the next slice (the compressed bytes as <see cref="DeflateSlice"/> made them).</summary>
    public async ValueTask AppendSliceAsync(ReadOnlyMemory<byte> compressed, uint crc32, long inputLength, CancellationToken ct)
    {
        AccountSlice(crc32, inputLength);
        await AppendCompressedAsync(compressed, ct).ConfigureAwait(false);
    }

    /// <summary>Appends part of a slice's compressed bytes; the slice's CRC is accounted by <see cref="AccountSlice"/>.</summary>
    public async ValueTask AppendCompressedAsync(ReadOnlyMemory<byte> compressed, CancellationToken ct)
    {
        if (!_started)
        {
            _started = true;
            await EncryptAsync(GzipMemberFraming.Header(compressionLevel), ct).ConfigureAwait(false);
        }

        await EncryptAsync(compressed, ct).ConfigureAwait(false);
    }

    /// <summary>Accounts a slice whose bytes were appended in pieces with <see cref="AppendCompressedAsync"/>.</summary>
    public void AccountSlice(uint crc32, long inputLength) => _gzip.AddSlice(crc32, inputLength);

    public async ValueTask<SealResult> FinishAsync(CancellationToken ct)
    {
        await AppendCompressedAsync(ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(false);
        await EncryptAsync(_gzip.Trailer(), ct).ConfigureAwait(false);
        byte[] last = new byte[CbcSealer.BlockSize];
        int n = _cbc.Finish(last);
        await _cutter.WriteAsync(last.AsMemory(0, n), ct).ConfigureAwait(false);
        await _cutter.FinishAsync(ct).ConfigureAwait(false);
        return new SealResult(_cutter.Parts.ToList(), _cutter.BytesWritten, _gzipLength, _gzip.InputLength);
    }

    private async ValueTask EncryptAsync(ReadOnlyMemory<byte> plaintext, CancellationToken ct)
    {
        if (plaintext.IsEmpty)
        {
            return;
        }

        _gzipLength += plaintext.Length;
        byte[] cipher = ArrayPool<byte>.Shared.Rent(CbcSealer.MaxOutputLength(plaintext.Length));
        try
        {
            int n = _cbc.Encrypt(plaintext.Span, cipher);
            await _cutter.WriteAsync(cipher.AsMemory(0, n), ct).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(cipher);
        }
    }

    public void Dispose()
    {
        _cbc.Dispose();
        _cutter.Dispose();
    }
}
