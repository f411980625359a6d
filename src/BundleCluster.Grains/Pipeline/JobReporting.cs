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

    /// <summary>Delivers a result, retrying within <paramref name="window"/>; the last failure surfaces when it closes.</summary>
    public static async Task ResultAsync(Func<Task> report, RetryWindow window, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await report();
                return;
            }
            catch (Exception) when (window.IsOpen && !ct.IsCancellationRequested)
            {
                await window.BackOffAsync(attempt, ct);
            }
        }
    }
}
