using System.Collections.Concurrent;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// The silo's compression threads: one per compression slot, running CPU-bound work (deflate) one item at a time each,
/// in arrival order. Not the thread pool: Orleans runs every grain turn, message and I/O completion there, and a pool
/// thread held for a slice's deflate (tens of milliseconds) delays all of them — on a silo with few cores the sealer's
/// turns then queue behind compression and the whole job waits for the sealer. Dedicated threads leave the pool to
/// the work that must stay responsive, and the operating system shares the cores between them.
/// </summary>
public sealed class CpuWorkLimiter : IDisposable
{
    private readonly BlockingCollection<Action> _work = [];

    public CpuWorkLimiter(int slots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        for (int i = 0; i < slots; i++)
        {
            new Thread(RunWorker) { IsBackground = true, Name = $"bundlecluster-compress-{i}" }.Start();
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a compression thread; the caller resumes in its own context (the grain's
    /// scheduler). Cancelling ends the wait at once: work still waiting for a thread is dropped, work already running
    /// finishes on its thread (deflate cannot stop midway) and its result, if disposable, is disposed.
    /// </summary>
    public Task<T> RunAsync<T>(Func<T> work, CancellationToken ct = default)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        CancellationTokenRegistration cancel = ct.Register(() => done.TrySetCanceled(ct));
        _work.Add(() =>
        {
            try
            {
                if (done.Task.IsCompleted)
                {
                    return; // cancelled while waiting
                }

                T result = work();
                if (!done.TrySetResult(result) && result is IDisposable late)
                {
                    late.Dispose(); // the caller stopped waiting while it ran
                }
            }
            catch (Exception ex)
            {
                done.TrySetException(ex);
            }
            finally
            {
                cancel.Dispose();
            }
        }, CancellationToken.None); // never blocks: the queue is unbounded (callers are bounded by the sealers' windows)
        return done.Task;
    }

    private void RunWorker()
    {
        foreach (Action work in _work.GetConsumingEnumerable())
        {
            work();
        }
    }

    public void Dispose()
    {
        _work.CompleteAdding(); // the threads finish what is queued and end
    }
}
