using System.Security.Cryptography;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Manifest;

namespace BundleCluster.Format.Unbundling;

/// <summary>
/// Reads a bundle's parts, in manifest index order, as one stream of ciphertext, checking each part's SHA-1 as its
/// last byte is read. A part whose digest differs stops the stream with an error naming the part.
/// </summary>
internal sealed class PartSequenceStream : ReadOnlyStream
{
    private readonly IReadOnlyList<ManifestPart> _parts;
    private readonly Func<ManifestPart, CancellationToken, ValueTask<Stream>> _open;
    private readonly IncrementalHash _sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
    private int _current = -1;
    private Stream? _stream;

    public PartSequenceStream(IReadOnlyList<ManifestPart> parts, Func<ManifestPart, CancellationToken, ValueTask<Stream>> open)
    {
        _parts = parts;
        _open = open;
    }

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        while (true)
        {
            if (_stream is null)
            {
                if (_current + 1 >= _parts.Count)
                {
                    return 0;
                }

                _current++;
                _stream = await _open(_parts[_current], ct).ConfigureAwait(false);
            }

            int n = await _stream.ReadAsync(buffer, ct).ConfigureAwait(false);
            if (n > 0)
            {
                _sha1.AppendData(buffer.Span[..n]);
                return n;
            }

            await CloseCurrentAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// After a failure further down the pipeline (bad padding, bad deflate data), reads the rest of the current part:
    /// if its digest is wrong, that — not the downstream symptom — is the error to report.
    /// </summary>
    public async Task ThrowIfCurrentPartCorruptAsync(CancellationToken ct)
    {
        if (_stream is null)
        {
            return;
        }

        byte[] buffer = new byte[1 << 20];
        int n;
        while ((n = await _stream.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
        {
            _sha1.AppendData(buffer.AsSpan(0, n));
        }

        await CloseCurrentAsync().ConfigureAwait(false);
    }

    private async Task CloseCurrentAsync()
    {
        await _stream!.DisposeAsync().ConfigureAwait(false);
        _stream = null;
        ManifestPart part = _parts[_current];
        string actual = Convert.ToHexStringLower(_sha1.GetHashAndReset());
        if (!string.Equals(actual, part.Sha1Hex, StringComparison.OrdinalIgnoreCase))
        {
            throw BundleException.InvalidBundle(
                $"bundle part '{part.FileName}' is corrupt (expected SHA-1 {part.Sha1Hex}, actual {actual})");
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stream?.Dispose();
            _sha1.Dispose();
        }

        base.Dispose(disposing);
    }
}
