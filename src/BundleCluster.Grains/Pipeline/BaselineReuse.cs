using System.Buffers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BundleCluster.Abstractions.Pipeline;
using BundleCluster.Format.Incremental;
using BundleCluster.Format.Keys;
using BundleCluster.Grains.Hosting;
using BundleCluster.Grains.Telemetry;
using BundleCluster.Storage.Sources;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// The sealer's side of incremental re-bundling: the job's baseline bundle, if it could be opened, whose slice hashes
/// the chunk grains compare against and whose compressed slices the sealer takes. Anything wrong with the baseline —
/// at opening or at any read later — turns it off with one warning, and the job goes on compressing: a baseline can
/// make a job cheaper, never make it fail or come out wrong.
/// </summary>
internal sealed class BaselineReuse : IDisposable
{
    private readonly string? _location;
    private readonly PipelineMetrics _metrics;
    private BaselineBundle? _bundle;
    private long _readByDropped;

    private BaselineReuse(string? location, BaselineBundle? bundle, string? warning, PipelineMetrics metrics)
    {
        _location = location;
        _bundle = bundle;
        Warning = warning;
        _metrics = metrics;
    }

    /// <summary>Why the baseline was not used, or stopped being used; null while it is in use (or none was named).</summary>
    public string? Warning { get; private set; }

    /// <summary>True while the baseline is open and trusted.</summary>
    public bool InUse => _bundle is not null;

    /// <summary>Baseline part bytes read by this sealer (each part once, read-ahead included).</summary>
    public long BytesRead => _readByDropped + (_bundle?.BytesRead ?? 0);

    /// <summary>
    /// Opens the request's baseline with the job's own certificate and private key: a baseline signed by another
    /// identity, or whose AES key the job's key cannot unwrap, is not used.
    /// </summary>
    public static async Task<BaselineReuse> OpenAsync(SealRequest request, BundleClusterOptions options, PipelineMetrics metrics, CancellationToken ct)
    {
        if (request.Baseline is not { } location)
        {
            return new BaselineReuse(null, null, null, metrics);
        }

        try
        {
            IReadOnlyCollection<string> keyRoots = options.KeyFileRoots();
            using X509Certificate2 certificate = KeyFiles.LoadCertificate(
                request.UserCertificatePath ?? throw new InvalidOperationException("the seal request names no user certificate"),
                "user certificate", f => AllowedRoots.RequireOpened(f, keyRoots, "user certificate"));
            using RSA privateKey = KeyFiles.LoadPrivateKey(request.PrivateKeyPath, f => AllowedRoots.RequireOpened(f, keyRoots, "private key"));
            (Format.Unbundling.IPartSource source, string manifest) = ManifestLocation.Open(location, PlanExtensions.Settings(request.S3));
            BaselineBundle bundle = await BaselineBundle.OpenAsync(source, manifest, certificate, privateKey,
                request.Plan.SliceSize, request.Plan.CompressionLevel, ct).ConfigureAwait(false);
            return new BaselineReuse(location, bundle, null, metrics);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            return new BaselineReuse(location, null, NotUsed(location, ex.UserMessage()), metrics);
        }
    }

    /// <summary>The one wording of "this baseline is not used", so every fallback reads the same.</summary>
    public static string NotUsed(string location, string reason) => $"baseline '{location}' not used ({reason}); building in full";

    /// <summary>The SHA-256 the baseline holds for slice <paramref name="index"/> of this length, if it is in use and has one.</summary>
    public byte[]? Candidate(int index, int inputLength) => _bundle?.Entry(index, inputLength)?.Sha256;

    /// <summary>
    /// The compressed bytes of slice <paramref name="index"/> from the baseline — <c>Buffer[Offset..]</c>, a pooled
    /// buffer the caller returns — with their index entry; null, and the baseline turned off with a warning, if they
    /// cannot be read and checked.
    /// </summary>
    public async Task<(byte[] Buffer, int Offset, SliceIndexEntry Entry)?> TryReadAsync(int index, int inputLength, CancellationToken ct)
    {
        if (_bundle is not { } bundle || bundle.Entry(index, inputLength) is not { } entry)
        {
            return null;
        }

        try
        {
            (byte[] buffer, int offset) = await bundle.ReadSliceAsync(entry, ct).ConfigureAwait(false);
            _metrics.SlicesReused.Add(1);
            return (buffer, offset, entry);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            Warning = $"baseline '{_location}' dropped at slice {index} ({ex.UserMessage()}); the rest of the image is compressed";
            _readByDropped += bundle.BytesRead;
            bundle.Dispose();
            _bundle = null;
            return null;
        }
    }

    /// <summary>Returns a buffer <see cref="TryReadAsync"/> handed out.</summary>
    public static void Return(byte[] bytes) => ArrayPool<byte>.Shared.Return(bytes);

    public void Dispose()
    {
        _metrics.BaselineBytesRead.Add(BytesRead);
        _bundle?.Dispose();
        _bundle = null;
    }
}
