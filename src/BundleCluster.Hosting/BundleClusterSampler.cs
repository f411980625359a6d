using System.Diagnostics;
using System.Text.RegularExpressions;
using OpenTelemetry.Trace;
using Orleans.Runtime;

namespace BundleCluster.Hosting;

/// <summary>
/// Which spans are recorded. Parent-based, as OpenTelemetry's default: a span is recorded when its parent was (so a
/// caller's sampling decision holds for its bundle job). Two kinds of Orleans span are left out by default, because
/// they were most of the volume and of telemetry's cost (docs/benchmarks.md) and tell an operator little:
/// <list type="bullet">
/// <item>grain calls that start a trace of their own — status polls, timers, membership and directory traffic
/// (a grain call inside a job or a caller's trace is recorded);</item>
/// <item>per-activation bookkeeping — placement, activation, directory registration, deactivation — six spans for
/// each of a job's chunk grains. <c>BundleCluster:Telemetry:ActivationSpans=true</c> records them.</item>
/// </list>
/// </summary>
internal sealed partial class BundleClusterSampler(bool activationSpans) : Sampler
{
    private static readonly HashSet<string> ActivationBookkeeping =
    [
        ActivityNames.PlaceGrain, ActivityNames.FilterPlacementCandidates, ActivityNames.ActivateGrain, ActivityNames.DeactivateGrain,
        ActivityNames.OnActivate, ActivityNames.OnDeactivate, ActivityNames.RegisterDirectoryEntry,
    ];

    private static readonly SamplingResult Drop = new(SamplingDecision.Drop);
    private static readonly SamplingResult Sample = new(SamplingDecision.RecordAndSample);

    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters)
    {
        if (!activationSpans && ActivationBookkeeping.Contains(samplingParameters.Name))
        {
            return Drop;
        }

        ActivityContext parent = samplingParameters.ParentContext;
        if (parent.TraceId == default)
        {
            return OrleansGrainCall().IsMatch(samplingParameters.Name) ? Drop : Sample;
        }

        return (parent.TraceFlags & ActivityTraceFlags.Recorded) != 0 ? Sample : Drop;
    }

    /// <summary>Orleans names a grain call's span "IInterface/Method" (an HTTP server span is "GET /path").</summary>
    [GeneratedRegex(@"^I[A-Z][A-Za-z0-9_`]*(<[^>]*>)?/[A-Za-z0-9_]+", RegexOptions.CultureInvariant)]
    private static partial Regex OrleansGrainCall();
}
