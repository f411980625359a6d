namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// A grain's long-running work, started once from a grain call and run on the grain's scheduler (it is not a request,
/// so status calls and Stop interleave with it). Stop cancels it and waits until it has wound down.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001",
    Justification = "The token source has no timer or links, so it holds nothing to release; disposing it while a cancelled run may still observe its token would only add a race.")]
internal sealed class BackgroundRun
{
    private CancellationTokenSource? _stop;
    private Task? _run;

    public void StartOnce(Func<CancellationToken, Task> run)
    {
        if (_run is null)
        {
            _stop = new CancellationTokenSource();
            _run = run(_stop.Token);
        }
    }

    /// <summary>Asks the work to stop without waiting (the activation is going away: its silo stops or it migrates).</summary>
    public void Cancel() => _stop?.Cancel();

    /// <summary>
    /// Waits until the work has wound down (after <see cref="Cancel"/>), or until <paramref name="ct"/> runs out;
    /// false when it ran out first.
    /// </summary>
    public async Task<bool> WaitStoppedAsync(CancellationToken ct)
    {
        if (_run is null)
        {
            return true;
        }

        try
        {
            await _run.WaitAsync(ct);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // wound down: a stopped run ends in cancellation
        }
        catch (OperationCanceledException)
        {
            return false; // the budget ran out: the activation goes anyway
        }

        return true;
    }

    public async Task StopAsync()
    {
        if (_stop is not null)
        {
            await _stop.CancelAsync();
        }

        if (_run is not null)
        {
            await _run;
        }
    }
}
