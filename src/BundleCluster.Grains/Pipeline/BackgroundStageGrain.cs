namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// A pipeline stage whose work runs in the background of its activation (the digest, the sealer): started once per
/// activation, stopped on request, and cancelled when the activation goes away — the job's watchdog then starts it
/// again on a live silo.
/// </summary>
internal abstract class BackgroundStageGrain<TRequest> : Grain
{
    private readonly BackgroundRun _run = new();

    public Task StartAsync(TRequest request)
    {
        _run.StartOnce(ct => RunAsync(request, ct));
        return Task.CompletedTask;
    }

    public Task StopAsync() => _run.StopAsync();

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _run.Cancel();
        return Task.CompletedTask;
    }

    protected abstract Task RunAsync(TRequest request, CancellationToken ct);
}
