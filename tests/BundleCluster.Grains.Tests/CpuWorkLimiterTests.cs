using BundleCluster.Grains.Pipeline;

namespace BundleCluster.Grains.Tests;

/// <summary>The silo's compression threads: CPU work runs there, never on the thread pool, at most one item per slot.</summary>
public sealed class CpuWorkLimiterTests
{
    [Fact]
    public async Task Work_runs_on_the_compression_threads_at_most_one_item_per_slot()
    {
        using var limiter = new CpuWorkLimiter(2);
        int running = 0, mostAtOnce = 0;
        var onPool = new List<bool>();
        Task<int>[] work = Enumerable.Range(0, 8).Select(i => limiter.RunAsync(() =>
        {
            int now = Interlocked.Increment(ref running);
            lock (onPool)
            {
                mostAtOnce = Math.Max(mostAtOnce, now);
                onPool.Add(Thread.CurrentThread.IsThreadPoolThread);
            }

            Thread.Sleep(20);
            Interlocked.Decrement(ref running);
            return i;
        })).ToArray();

        Assert.Equal(Enumerable.Range(0, 8), await Task.WhenAll(work).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, mostAtOnce);
        Assert.All(onPool, pool => Assert.False(pool));
    }

    [Fact]
    public async Task Cancelled_work_that_waits_for_a_thread_never_runs_and_a_failure_reaches_the_caller()
    {
        using var limiter = new CpuWorkLimiter(1);
        using var release = new ManualResetEventSlim();
        Task<int> blocker = limiter.RunAsync(() =>
        {
            release.Wait();
            return 1;
        });
        using var cancel = new CancellationTokenSource();
        bool ran = false;
        Task<int> waiting = limiter.RunAsync(() =>
        {
            ran = true;
            return 2;
        }, cancel.Token);
        Task<int> failing = limiter.RunAsync<int>(() => throw new InvalidDataException("bad slice"));

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        release.Set();
        Assert.Equal(1, await blocker.WaitAsync(TimeSpan.FromSeconds(30)));
        await Assert.ThrowsAsync<InvalidDataException>(() => failing.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(ran);
    }

    [Fact]
    public async Task A_result_that_arrives_after_its_caller_gave_up_is_disposed()
    {
        using var limiter = new CpuWorkLimiter(1);
        using var started = new ManualResetEventSlim();
        using var finish = new ManualResetEventSlim();
        using var cancel = new CancellationTokenSource();
        var result = new TrackedResult();
        Task<TrackedResult> work = limiter.RunAsync(() =>
        {
            started.Set();
            finish.Wait();
            return result;
        }, cancel.Token);

        started.Wait(TimeSpan.FromSeconds(30));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => work);
        finish.Set();
        await limiter.RunAsync(() => 0).WaitAsync(TimeSpan.FromSeconds(30)); // the late result has been handled by now
        Assert.True(result.Disposed); // a pooled buffer goes back to its pool, not to a caller that left
    }

    private sealed class TrackedResult : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }
}
