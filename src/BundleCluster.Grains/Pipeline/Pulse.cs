namespace BundleCluster.Grains.Pipeline;

/// <summary>
/// A signal that can fire any number of times: <see cref="Next"/> completes at the next <see cref="Fire"/>, and a
/// wait begun after a fire waits for the one after. Continuations run asynchronously, on the waiter's context (the
/// grain's scheduler), never inside <see cref="Fire"/>. Not thread-safe: used on one grain's turn.
/// </summary>
internal sealed class Pulse
{
    private TaskCompletionSource _next = New();

    public Task Next => _next.Task;

    public void Fire()
    {
        TaskCompletionSource fired = _next;
        _next = New();
        fired.TrySetResult();
    }

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
