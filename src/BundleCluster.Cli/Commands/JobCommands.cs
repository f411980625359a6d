using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Client;

namespace BundleCluster.Cli.Commands;

/// <summary><c>bundlectl jobs | status | watch | cancel</c>: following jobs on a cluster.</summary>
internal static class JobCommands
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // for terminals and jq, not HTML: keep ' and < readable
    };

    public static IEnumerable<Command> Create()
    {
        yield return WithCluster(new Command("jobs", "List the cluster's most recent jobs"), async (parsed, client, context, ct) =>
        {
            foreach (BundleJobStatus s in await client.ListJobsAsync(50, ct))
            {
                context.Output.WriteLine($"{s.JobId}  {s.State,-9}  {s.Prefix ?? "-"}  {Percent(s)}  {s.Error ?? s.ManifestPath ?? ""}");
            }

            return ExitCodes.Ok;
        });

        var json = new Option<bool>("--json") { Description = "Print the status as JSON" };
        yield return WithCluster(new Command("status", "Show a job's status") { JobId(), json }, async (parsed, client, context, ct) =>
        {
            BundleJobStatus s = await client.GetStatusAsync(parsed.GetValue<string>("job-id")!, ct);
            context.Output.WriteLine(parsed.GetValue(json) ? ToJson(s) : Describe(s));
            return ExitCodes.Ok;
        });

        yield return WithCluster(new Command("watch", "Follow a job until it ends") { JobId() }, async (parsed, client, context, ct) =>
        {
            BundleJobStatus? last = null;
            var rate = new ProgressRate();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            await foreach (BundleJobStatus s in client.FollowAsync(parsed.GetValue<string>("job-id")!, ct))
            {
                rate.Add(clock.Elapsed, s.TarBytesSealed);
                context.Output.WriteLine(s.IsFinished ? Describe(s) : $"{Describe(s)} ({rate.Describe(s.TarBytes)})");
                last = s;
            }

            return last?.State == BundleJobState.Completed ? ExitCodes.Ok : ExitCodes.For(last?.ErrorKind);
        });

        yield return WithCluster(new Command("cancel", "Cancel a job; its parts are removed and no manifest is written") { JobId() }, async (parsed, client, context, ct) =>
        {
            BundleJobStatus s = await client.CancelAsync(parsed.GetValue<string>("job-id")!, ct);
            context.Output.WriteLine(Describe(s));
            return ExitCodes.Ok;
        });
    }

    private static Argument<string> JobId() => new("job-id") { Description = "The job id bundle-image printed" };

    /// <summary>
    /// Gives the command --cluster (the Orleans gateway, through Redis) and --service/--token (bundle-api): the body
    /// gets whichever client the flags name, and prints the same either way.
    /// </summary>
    private static Command WithCluster(Command command, Func<ParseResult, IBundleJobClient, CliContext, CancellationToken, Task<int>> body)
    {
        Option<string> cluster = ClusterOptions.Cluster(required: true);
        command.Options.Add(cluster);
        command.Options.Add(ClusterOptions.ClusterId);
        command.Options.Add(ClusterOptions.ServiceId);
        ServiceOptions.AddTo(command);
        command.SetAction((parsed, ct) => BundleCtl.GuardAsync(parsed, async context =>
        {
            if (ServiceOptions.Url(parsed, cluster) is { } service)
            {
                return await body(parsed, ServiceOptions.Connect(parsed, service), context, ct);
            }

            await using ConnectedBundleCluster connection = await ClusterOptions.ConnectAsync(parsed, cluster, ct);
            return await body(parsed, connection.Client, context, ct);
        }, ct));
        return command;
    }

    internal static string Describe(BundleJobStatus s) =>
        $"{s.JobId}: {s.State}{(s.QueuePosition is { } position ? $" (position {position})" : "")} {s.Prefix} {Percent(s)} sealed, {s.PartsWritten} parts, silos: " +
        (s.Silos.Count == 0 ? "-" : string.Join(", ", s.Silos.Select(kv => $"{kv.Key}={CliOptions.Size(kv.Value)}"))) +
        (s.Error is null ? "" : $"; error: {s.Error}") + (s.ManifestPath is null ? "" : $"; manifest: {s.ManifestPath}");

    private static string Percent(BundleJobStatus s) => s.TarBytes == 0 ? "0%" : $"{100.0 * s.TarBytesSealed / s.TarBytes:0}%";

    internal static string ToJson(BundleJobStatus s) => JsonSerializer.Serialize(new
    {
        s.JobId,
        s.State,
        s.Prefix,
        s.Destination,
        s.ImageBytes,
        s.TarBytes,
        BytesDone = s.TarBytesSealed,
        s.TarBytesDigested,
        s.PartsWritten,
        s.BundledBytes,
        s.Silos,
        s.SealerSilo,
        s.PartsResumed,
        s.PartsRewritten,
        s.SlicesReused,
        s.SlicesCompressed,
        s.BaselineBytesRead,
        s.Warnings,
        s.ManifestPath,
        s.Error,
        s.ErrorKind,
        s.QueuePosition,
        s.StartedAt,
        s.RunningSince,
        s.FinishedAt,
        s.TraceId,
    }, Json);
}
