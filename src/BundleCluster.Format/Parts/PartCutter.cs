using System.Buffers;
using System.Security.Cryptography;

namespace BundleCluster.Format.Parts;

/// <summary>
/// Cuts the ciphertext stream into 10 MiB parts (a plain byte split, blind to AES block boundaries), SHA-1s each and
/// hands it on. Only the part being filled is held here.
/// </summary>
public sealed class PartCutter : IDisposable
{
    private readonly Func<SealedPart, CancellationToken, ValueTask> _onPart;
    private readonly int _partSize;
    private readonly List<PartRecord> _parts = [];
    private byte[]? _current;
    private int _filled;

    public PartCutter(Func<SealedPart, CancellationToken, ValueTask> onPart, int partSize = BundleFileNames.PartSize,
        IReadOnlyList<PartRecord>? partsDone = null)
    {
        _onPart = onPart;
        _partSize = partSize;
        if (partsDone is not null)
        {
            _parts.AddRange(partsDone); // a resumed sealer continues after these whole parts
            BytesWritten = (long)partsDone.Count * partSize;
        }
    }

    public IReadOnlyList<PartRecord> Parts => _parts;

    public long BytesWritten { get; private set; }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> ciphertext, CancellationToken ct)
    {
        while (!ciphertext.IsEmpty)
        {
            _current ??= ArrayPool<byte>.Shared.Rent(_partSize);
            int take = Math.Min(_partSize - _filled, ciphertext.Length);
            ciphertext.Span[..take].CopyTo(_current.AsSpan(_filled));
            _filled += take;
            BytesWritten += take;
            ciphertext = ciphertext[take..];
            if (_filled == _partSize)
            {
                await EmitAsync(ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Emits the last, shorter part if any bytes are pending.</summary>
    public ValueTask FinishAsync(CancellationToken ct) => _filled > 0 ? EmitAsync(ct) : ValueTask.CompletedTask;

    private ValueTask EmitAsync(CancellationToken ct)
    {
        byte[] buffer = _current!;
#pragma warning disable CA5350 // the manifest format (2007-10-10) names each part by its SHA-1; not a security choice of ours
        string sha1 = Convert.ToHexStringLower(SHA1.HashData(buffer.AsSpan(0, _filled)));
#pragma warning restore CA5350
        var part = new SealedPart(_parts.Count, buffer, _filled, sha1);
        _parts.Add(part.ToRecord());
        _current = null;
        _filled = 0;
        return _onPart(part, ct);
    }

    public void Dispose()
    {
        if (_current is not null)
        {
            ArrayPool<byte>.Shared.Return(_current);
            _current = null;
        }
    }
}
