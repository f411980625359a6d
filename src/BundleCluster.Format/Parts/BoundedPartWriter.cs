namespace BundleCluster.Format.Parts;

/// <summary>
/// Writes sealed parts to their destination with at most N writes in flight, so sealing overlaps I/O while memory
/// stays bounded (N + 1 parts of 10 MiB). Each part is disposed once written; the first failure is rethrown.
/// </summary>
public sealed class BoundedPartWriter(Func<SealedPart, CancellationToken, Task> write, int maxInFlight = 2) : IAsyncDisposable
{
    private readonly Queue<Task> _inFlight = new();

    public async ValueTask EnqueueAsync(SealedPart part, CancellationToken ct)
    {
        while (_inFlight.Count >= maxInFlight)
        {
            await _inFlight.Dequeue().ConfigureAwait(false);
        }

        _inFlight.Enqueue(WriteAsync(part, ct));
    }

    /// <summary>Waits for every write; throws the first failure.</summary>
    public async Task DrainAsync()
    {
        while (_inFlight.Count > 0)
        {
            await _inFlight.Dequeue().ConfigureAwait(false);
        }
    }

    private async Task WriteAsync(SealedPart part, CancellationToken ct)
    {
        using (part)
        {
            await Task.Yield(); // let the sealer go on while this write runs
            await write(part, ct).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        while (_inFlight.Count > 0)
        {
            try
            {
                await _inFlight.Dequeue().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Disposal after a failure: the failure was already reported by DrainAsync/EnqueueAsync.
            }
        }
    }
}
