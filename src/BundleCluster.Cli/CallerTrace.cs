using System.Diagnostics;

namespace BundleCluster.Cli;

/// <summary>
/// The trace of whatever ran bundlectl (a CI pipeline), as OpenTelemetry's environment-variable carrier passes it:
/// <c>TRACEPARENT</c> (and <c>TRACESTATE</c>). While the returned scope is open, grain calls carry that context, so
/// the job's <c>bundle.job</c> span becomes a child of the pipeline's span. No variable (or a malformed one): no scope.
/// </summary>
internal static class CallerTrace
{
    public static Activity? FromEnvironment()
    {
        string? traceParent = Environment.GetEnvironmentVariable("TRACEPARENT");
        if (traceParent is null || !ActivityContext.TryParse(traceParent, Environment.GetEnvironmentVariable("TRACESTATE"), out _))
        {
            return null;
        }

        // Not recorded (no listener needs one): it only makes the caller's context current for Orleans to propagate.
        var activity = new Activity("bundlectl.submit");
        activity.SetIdFormat(ActivityIdFormat.W3C);
        activity.SetParentId(traceParent);
        activity.TraceStateString = Environment.GetEnvironmentVariable("TRACESTATE");
        return activity.Start();
    }
}
