namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// The pipeline's one retry policy: keep trying while a window (measured on a monotonic clock) is open, waiting 200 ms
/// doubling to 2 s between attempts — a dead silo takes membership some seconds to notice, after which its work
/// lands elsewhere. Time comes from a <see cref="TimeProvider"/>, so tests can run a window without waiting it out.
/// </summary>
internal sealed class RetryWindow(TimeProvider time, TimeSpan length)
{
    private readonly long _opened = time.GetTimestamp();

    /// <summary>Whether another attempt may start.</summary>
    public bool IsOpen => time.GetElapsedTime(_opened) < length;

    /// <summary>Waits before attempt <paramref name="attempt"/> + 1.</summary>
    public Task BackOffAsync(int attempt, CancellationToken ct) => Task.Delay(Backoff(attempt), time, ct);

    public static TimeSpan Backoff(int attempt) => TimeSpan.FromMilliseconds(Math.Min(2000, 100 << Math.Clamp(attempt, 1, 5)));
}
