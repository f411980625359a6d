namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// Runs CPU-heavy work (compression) on the thread pool, at most one item per core of this silo, and returns to the
/// caller's context (the grain's scheduler) when done, so grain state is only touched there.
/// </summary>
public sealed class CpuWorkLimiter(int slots) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(slots, slots);

    public async Task<T> RunAsync<T>(Func<Task<T>> work, CancellationToken ct = default)
    {
        await _slots.WaitAsync(ct);
        try
        {
            return await Task.Run(work, ct);
        }
        finally
        {
            _slots.Release();
        }
    }

    public void Dispose() => _slots.Dispose();
}
