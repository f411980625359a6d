using BundleCluster.Abstractions.Pipeline;

namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// How pipeline stages talk to their job grain, which may be moving between silos: progress is advisory (a lost
/// update is replaced by the next), results must arrive (retried until the job grain answers, within a window).
/// </summary>
internal static class JobReporting
{
    public static async Task ProgressAsync(Func<Task> report)
    {
        try
        {
            await report();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The job grain is being re-activated elsewhere; the next progress report will reach it.
        }
    }

    public static async Task ResultAsync(Func<Task> report, TimeSpan window, CancellationToken ct)
    {
        DateTime giveUpAt = DateTime.UtcNow + window;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await report();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < giveUpAt && !ct.IsCancellationRequested)
            {
                await Task.Delay(Backoff(attempt), ct);
            }
        }
    }

    /// <summary>The pipeline's one retry backoff: 200 ms doubling to 2 s (a dead silo takes membership some seconds to notice).</summary>
    public static TimeSpan Backoff(int attempt) => TimeSpan.FromMilliseconds(Math.Min(2000, 100 << Math.Clamp(attempt, 1, 5)));
}
