using BundleCluster.Abstractions.Jobs;
using BundleCluster.Grains.Hosting;
using BundleCluster.Grains.Placement;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace BundleCluster.Grains.Jobs;

/// <summary>A job in the queue's state: its ticket and its place in submission order.</summary>
[GenerateSerializer, Immutable, Alias("bc.QueuedJob")]
public sealed record QueuedJob([property: Id(0)] QueueTicket Ticket, [property: Id(1)] long Sequence);

/// <summary>The queue's persisted state: jobs waiting (in admission order) and jobs holding a running place.</summary>
[GenerateSerializer, Alias("bc.JobQueueRecord")]
public sealed class JobQueueRecord
{
    [Id(0)] public List<QueuedJob> Waiting { get; set; } = [];

    [Id(1)] public List<QueuedJob> Running { get; set; } = [];

    [Id(2)] public long NextSequence { get; set; }
}

/// <summary>
/// Admission control (see <see cref="IJobQueueGrain"/>). Not reentrant: every change is one turn, written before the
/// turn ends, and the queue never waits on a job to admit it (admission is a one-way message; a job that missed it
/// re-enters on its watchdog tick and is told then). Places held by jobs that ended without saying so (their silo
/// died at the wrong moment) are taken back by a periodic check of the running jobs' states.
/// </summary>
internal sealed partial class JobQueueGrain(
    [PersistentState("queue", BundleClusterOptions.JobStorage)] IPersistentState<JobQueueRecord> record,
    IOptions<BundleClusterOptions> options,
    IClusterMembershipService membership,
    ISiloMetadataCache metadata,
    ILogger<JobQueueGrain> logger)
    : Grain, IJobQueueGrain
{
    /// <summary>How long the scale signal and the reclaiming check wait for one running job's state.</summary>
    private static readonly TimeSpan StatusWait = TimeSpan.FromSeconds(2);

    private JobQueueRecord State => record.State;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // After a restart the running places may belong to jobs that ended meanwhile: check them at once, then now and then.
        this.RegisterGrainTimer(_ => ReclaimAsync(), TimeSpan.Zero, options.Value.QueueCheckInterval);
        await base.OnActivateAsync(cancellationToken);
    }

    public async Task<QueueAnswer> EnterAsync(QueueTicket ticket)
    {
        if (State.Running.Any(j => j.Ticket.JobId == ticket.JobId))
        {
            return QueueAnswer.Run;
        }

        if (Position(ticket.JobId) is not null)
        {
            // A waiting job asks again on every watchdog tick: the room may have grown meanwhile (a silo joined and
            // the default limit follows the cluster's slots), so try to admit before answering.
            List<QueuedJob> grown = AdmitWaiting();
            if (grown.Count > 0)
            {
                await SaveAndTellAsync(grown, ticket.JobId);
            }

            return Position(ticket.JobId) is { } waiting ? new QueueAnswer(false, waiting) : QueueAnswer.Run;
        }

        var entry = new QueuedJob(ticket, State.NextSequence++);
        Insert(entry);
        List<QueuedJob> admitted = AdmitWaiting();
        QueueAnswer answer = Position(ticket.JobId) is { } position ? new QueueAnswer(false, position) : QueueAnswer.Run;
        if (!answer.Admitted && ticket.Quota is { MaxQueuedJobs: > 0 } quota
            && State.Waiting.Count(j => j.Ticket.Tenant == ticket.Tenant) > quota.MaxQueuedJobs)
        {
            State.Waiting.Remove(entry);
            answer = answer with { Refusal = $"tenant {ticket.Tenant} already has {quota.MaxQueuedJobs} jobs queued, its limit" };
            LogRefused(logger, ticket.JobId, answer.Refusal);
        }

        await SaveAndTellAsync(admitted, ticket.JobId);
        return answer;
    }

    public async Task LeaveAsync(string jobId)
    {
        int removed = State.Running.RemoveAll(j => j.Ticket.JobId == jobId) + State.Waiting.RemoveAll(j => j.Ticket.JobId == jobId);
        if (removed == 0)
        {
            return;
        }

        await SaveAndTellAsync(AdmitWaiting());
    }

    public Task<int?> GetPositionAsync(string jobId) => Task.FromResult(Position(jobId));

    public async Task<ScaleSignal> GetScaleSignalAsync()
    {
        // Slices not sealed yet: all of a waiting job's, and what each running job reports pending (all of them when
        // it does not answer at once: its silo is gone, so its slices are still to do).
        long pending = State.Waiting.Sum(j => (long)j.Ticket.Slices);
        long[] running = await Task.WhenAll(State.Running.Select(async j =>
        {
            try
            {
                BundleJobStatus status = await GrainFactory.GetGrain<IBundleJobGrain>(j.Ticket.JobId).GetStatusAsync().WaitAsync(StatusWait);
                return status.SlicesPending;
            }
            catch (Exception ex) when (ex is TimeoutException or OrleansException)
            {
                return j.Ticket.Slices;
            }
        }));
        pending += running.Sum();
        return new ScaleSignal(State.Waiting.Count, State.Running.Count, pending,
            SiloCapacity.ActiveSilos(membership).Count(), SiloCapacity.ClusterSlots(membership, metadata), MaxRunningJobs());
    }

    /// <summary>The cluster-wide limit: configured, or one running job per compression slot of the active silos.</summary>
    private int MaxRunningJobs() =>
        options.Value.MaxRunningJobs > 0 ? options.Value.MaxRunningJobs : Math.Max(1, SiloCapacity.ClusterSlots(membership, metadata));

    private int? Position(string jobId)
    {
        int index = State.Waiting.FindIndex(j => j.Ticket.JobId == jobId);
        return index < 0 ? null : index + 1;
    }

    /// <summary>Keeps <see cref="JobQueueRecord.Waiting"/> in admission order: priority (higher first), then submission.</summary>
    private void Insert(QueuedJob entry)
    {
        int index = State.Waiting.FindIndex(j => j.Ticket.Priority < entry.Ticket.Priority
                                                 || (j.Ticket.Priority == entry.Ticket.Priority && j.Sequence > entry.Sequence));
        State.Waiting.Insert(index < 0 ? State.Waiting.Count : index, entry);
    }

    /// <summary>Moves waiting jobs to running places while the cluster and their tenants have room; returns them.</summary>
    private List<QueuedJob> AdmitWaiting()
    {
        int limit = MaxRunningJobs();
        var admitted = new List<QueuedJob>();
        foreach (QueuedJob job in State.Waiting.ToList())
        {
            if (State.Running.Count >= limit)
            {
                break;
            }

            if (job.Ticket.Quota is { MaxRunningJobs: > 0 } quota
                && State.Running.Count(j => j.Ticket.Tenant == job.Ticket.Tenant) >= quota.MaxRunningJobs)
            {
                continue; // this tenant is at its limit; the next tenant's job may go
            }

            State.Waiting.Remove(job);
            State.Running.Add(job);
            admitted.Add(job);
        }

        return admitted;
    }

    /// <summary>
    /// Saves the queue, then tells each admitted job — after the save, so no job runs on a place the queue could
    /// forget. <paramref name="caller"/> is told by its answer instead.
    /// </summary>
    private async Task SaveAndTellAsync(List<QueuedJob> admitted, string? caller = null)
    {
        await record.WriteStateAsync();
        foreach (QueuedJob job in admitted.Where(j => j.Ticket.JobId != caller))
        {
            LogAdmitted(logger, job.Ticket.JobId, State.Running.Count);
            _ = GrainFactory.GetGrain<IAdmittedJob>(job.Ticket.JobId).AdmitAsync();
        }
    }

    /// <summary>Takes back the places of running jobs that have ended (or never existed), and fills them.</summary>
    private async Task ReclaimAsync()
    {
        var ended = new List<string>();
        foreach (QueuedJob job in State.Running.ToList())
        {
            try
            {
                // Bounded, since the queue takes no other call meanwhile: a job whose silo just died answers later.
                BundleJobStatus status = await GrainFactory.GetGrain<IBundleJobGrain>(job.Ticket.JobId).GetStatusAsync().WaitAsync(StatusWait);
                if (status.IsFinished || status.StartedAt is null)
                {
                    ended.Add(job.Ticket.JobId);
                }
            }
            catch (Exception ex)
            {
                LogCheckFailed(logger, ex, job.Ticket.JobId); // unreachable for now: ask again next time
            }
        }

        State.Running.RemoveAll(j => ended.Contains(j.Ticket.JobId));
        List<QueuedJob> admitted = AdmitWaiting();
        if (ended.Count > 0 || admitted.Count > 0)
        {
            await SaveAndTellAsync(admitted);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} admitted ({Running} running)")]
    private static partial void LogAdmitted(ILogger logger, string jobId, int running);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} refused by the queue: {Reason}")]
    private static partial void LogRefused(ILogger logger, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job queue: could not read the state of running job {JobId}; asking again later")]
    private static partial void LogCheckFailed(ILogger logger, Exception ex, string jobId);
}
