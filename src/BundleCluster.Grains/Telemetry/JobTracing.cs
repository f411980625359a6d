using System.Diagnostics;
using BundleCluster.Abstractions.Telemetry;

namespace BundleCluster.Grains.Telemetry;

/// <summary>
/// One job, one trace. The job grain starts the root span <c>bundle.job</c> at submit (as a child of the caller's
/// context) and persists its W3C <c>traceparent</c> in the job state and the plan; every stage, on whichever silo and
/// in whichever activation, parents its spans on that persisted context, so work redone after a silo died, a
/// reactivation or a whole-cluster restart lands in the same trace. Spans carry sizes, indexes, silos and outcomes —
/// never key material or manifest text.
/// </summary>
internal static class JobTracing
{
    public static readonly ActivitySource Source = new(TelemetryNames.ActivitySource);

    // How Orleans' activity propagation carries the caller's context in the request context.
    private const string TraceParentKey = "traceparent";
    private const string TraceStateKey = "tracestate";

    /// <summary>
    /// The caller's context in a grain method: the current span when Orleans' propagation started one, otherwise the
    /// traceparent it left in the request context (a silo that does not record Orleans' own spans), otherwise none.
    /// Only a recorded context counts: a job is always traced, and it joins its caller's trace when the caller records
    /// it (a context that is not recorded is usually a grain call nobody traced, carried for propagation only).
    /// </summary>
    public static ActivityContext CallerContext()
    {
        ActivityContext context = Activity.Current?.Context ?? default;
        if (context == default && RequestContext.Get(TraceParentKey) is string traceParent)
        {
            ActivityContext.TryParse(traceParent, RequestContext.Get(TraceStateKey) as string, isRemote: true, out context);
        }

        return IsRecorded(context) ? context : default;
    }

    private static bool IsRecorded(ActivityContext context) => (context.TraceFlags & ActivityTraceFlags.Recorded) != 0;

    /// <summary>The W3C traceparent of a context (what <see cref="Parse"/> reads back), or null for none.</summary>
    public static string? Format(ActivityContext context) =>
        context == default ? null : $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-{(byte)context.TraceFlags:x2}";

    /// <summary>
    /// Starts a job's root span: under <paramref name="caller"/> when there is one, otherwise as the root of a new trace
    /// — not under whatever unrecorded span happens to be current (an Orleans call nobody traced would make the job
    /// inherit its "not recorded").
    /// </summary>
    public static Activity? StartRoot(string name, ActivityContext caller)
    {
        if (caller == default)
        {
            Activity.Current = null; // this grain call's flow only: the caller's own context is untouched
        }

        return Source.StartActivity(name, ActivityKind.Server, caller);
    }

    public static ActivityContext Parse(string? traceParent) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, null, isRemote: true, out ActivityContext context) ? context : default;

    /// <summary>
    /// Starts a span of the job's trace: under the current span when it already belongs to that trace (a chunk call
    /// made from the sealer's span), otherwise directly under the persisted root.
    /// </summary>
    public static Activity? StartJobSpan(string name, string? jobTraceParent, ActivityKind kind = ActivityKind.Internal)
    {
        ActivityContext root = Parse(jobTraceParent);
        ActivityContext parent = Activity.Current is { Recorded: true } current && (root == default || current.TraceId == root.TraceId)
            ? current.Context
            : root;
        return Source.StartActivity(name, kind, parent);
    }

    /// <summary>Log records written inside carry the job id (and, through OpenTelemetry, the current span's trace context).</summary>
    public static IDisposable? BeginJobScope(this Microsoft.Extensions.Logging.ILogger logger, string jobId) =>
        logger.BeginScope(new[] { new KeyValuePair<string, object?>(TelemetryNames.Attributes.JobId, jobId) });

    /// <summary>Marks a span failed with the error kind as <c>error.type</c> — not the message, which may name user paths.</summary>
    public static void SetFailed(this Activity? span, string errorKind)
    {
        if (span is null)
        {
            return;
        }

        span.SetTag(TelemetryNames.Attributes.ErrorType, errorKind);
        span.SetStatus(ActivityStatusCode.Error);
    }
}
