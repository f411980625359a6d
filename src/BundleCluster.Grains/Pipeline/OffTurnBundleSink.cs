using BundleCluster.Storage.Sinks;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// Runs every call of a sink on the thread pool, so its blocking file work — fsyncs of parts and manifests, renames,
/// directory scans and locks — never holds a grain's turn (the scheduler of that activation would stall every other
/// call to it meanwhile). Each await returns to the grain's scheduler, where grain state is touched.
/// </summary>
internal sealed class OffTurnBundleSink(IBundleSink inner) : IBundleSink
{
    public Task PrepareAsync(string prefix, bool overwrite, CancellationToken ct) =>
        Task.Run(() => inner.PrepareAsync(prefix, overwrite, ct), ct);

    public Task WritePartAsync(int index, ReadOnlyMemory<byte> data, CancellationToken ct) =>
        Task.Run(() => inner.WritePartAsync(index, data, ct), ct);

    public Task<long?> StagedPartLengthAsync(int index, CancellationToken ct) =>
        Task.Run(() => inner.StagedPartLengthAsync(index, ct), ct);

    public Task<bool> IsStagedAsync(int index, ReadOnlyMemory<byte> data, CancellationToken ct) =>
        Task.Run(() => inner.IsStagedAsync(index, data, ct), ct);

    public Task CommitAsync(string manifestFileName, IReadOnlyList<string> partFileNames, string manifestText,
        IReadOnlyList<BundleSidecar> sidecars, CancellationToken ct) =>
        Task.Run(() => inner.CommitAsync(manifestFileName, partFileNames, manifestText, sidecars, ct), ct);

    public Task AbortAsync(CancellationToken ct) => Task.Run(() => inner.AbortAsync(ct), ct);

    public void Dispose() => inner.Dispose();
}
