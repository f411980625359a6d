using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using BundleCluster.Abstractions.Series;
using BundleCluster.Client.Service;
using BundleCluster.Format.Errors;

namespace BundleCluster.Cli.Commands;

/// <summary>
/// <c>bundlectl series …</c> (create, list, show, pause, resume, runs, run) and <c>bundlectl nightly --plan FILE</c>: nightly
/// builds through bundle-api (--service). A run of a date has the idempotency key <c>nightly/SERIES/DATE</c>, so a
/// CronJob that fires twice, or a retried pod, starts one run per series and night.
/// </summary>
internal static class SeriesCommands
{
    private static readonly JsonSerializerOptions PlanJson = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
        ReadCommentHandling = JsonCommentHandling.Skip,
    };

    private static readonly TimeSpan RunPoll = TimeSpan.FromSeconds(1);

    public static IEnumerable<Command> Create()
    {
        var series = new Command("series", "Nightly build series on bundle-api (--service): create, list, show, pause, resume, runs, run");
        foreach (Command command in SeriesSubcommands())
        {
            series.Subcommands.Add(command);
        }

        yield return series;
        yield return Nightly();
    }

    private static IEnumerable<Command> SeriesSubcommands()
    {
        Argument<string> name = new("name") { Description = "The series' name (a-z, 0-9, '-', '_', '.')" };
        Option<string> image = CliOptions.Text("--image", "-i", "The image (as the service's silos see it, or s3://bucket/key)", required: true);
        Option<string> destination = CliOptions.Text("--destination", "-d", "Where each night's bundle goes; must hold {date}, e.g. s3://bundles/web/{date}", required: true);
        Option<string> account = CliOptions.Text("--user", "-u", "The 12-digit AWS account number (default: $EC2_USER_ID)");
        Option<string> identity = CliOptions.Text("--identity", "", "The signing identity's name", required: true);
        Option<string> prefix = CliOptions.Text("--prefix", "-p", "Bundle name (default: the image file name)");
        Option<int> level = new("--level") { Description = "gzip level 1-9 (default 6)", DefaultValueFactory = _ => 6 };
        Option<string[]> labels = new("--label") { Description = "A label k=v for the series' jobs (repeatable)", AllowMultipleArgumentsPerToken = false };
        Option<UnchangedCheck?> unchanged = new("--unchanged") { Description = "How a run tells an unchanged image: content (default for files), metadata (default for s3://) or off" };
        Option<int?> maxFailures = new("--max-failures") { Description = "Failed runs in a row that pause the series (default 3; 0 never)" };
        Option<string> date = CliOptions.Text("--date", "", "The scheduled date, yyyy-MM-dd (default: today, UTC)");
        Option<int> limit = new("--limit") { Description = "How many runs, newest first (default 30)", DefaultValueFactory = _ => 30 };
        Option<bool> json = new("--json") { Description = "Print JSON" };

        Command create = new("create", "Create a series or replace its definition") { name, image, destination, account, identity, prefix, level, labels, unchanged, maxFailures, json };
        yield return WithService(create, async (parsed, client, context, ct) =>
        {
            var request = new ServiceSeriesRequest
            {
                Job = new ServiceJobRequest
                {
                    Image = parsed.GetValue(image),
                    Destination = parsed.GetValue(destination),
                    Account = CliOptions.Require(parsed, account, "EC2_USER_ID"),
                    Identity = parsed.GetValue(identity),
                    Prefix = parsed.GetValue(prefix),
                    Level = parsed.GetValue(level),
                    Labels = ParseLabels(parsed.GetValue(labels)),
                },
                Unchanged = parsed.GetValue(unchanged),
                MaxConsecutiveFailures = parsed.GetValue(maxFailures),
            };
            Print(context, parsed.GetValue(json), await client.PutSeriesAsync(parsed.GetValue(name)!, request, ct));
            return ExitCodes.Ok;
        });

        Command list = new("list", "The tenant's series") { json };
        yield return WithService(list, async (parsed, client, context, ct) =>
        {
            IReadOnlyList<SeriesView> all = await client.ListSeriesAsync(ct);
            if (parsed.GetValue(json))
            {
                context.Output.WriteLine(JsonSerializer.Serialize(all, JobCommands.Json));
            }
            else
            {
                foreach (SeriesView s in all)
                {
                    context.Output.WriteLine(Describe(s));
                }
            }

            return ExitCodes.Ok;
        });

        foreach ((string verb, string summary, Func<BundleServiceClient, string, CancellationToken, Task<SeriesView>> call) in
                 new (string, string, Func<BundleServiceClient, string, CancellationToken, Task<SeriesView>>)[]
                 {
                     ("show", "A series: definition, pause state, last success, last run", (c, n, ct) => c.GetSeriesAsync(n, ct)),
                     ("pause", "Pause a series: its runs are skipped until it is resumed", (c, n, ct) => c.PauseSeriesAsync(n, ct)),
                     ("resume", "Resume a paused series (one that paused itself too) and clear its failures", (c, n, ct) => c.ResumeSeriesAsync(n, ct)),
                 })
        {
            Command command = new(verb, summary) { name, json };
            yield return WithService(command, async (parsed, client, context, ct) =>
            {
                Print(context, parsed.GetValue(json), await call(client, parsed.GetValue(name)!, ct));
                return ExitCodes.Ok;
            });
        }

        Command runs = new("runs", "A series' runs, newest first") { name, limit, json };
        yield return WithService(runs, async (parsed, client, context, ct) =>
        {
            IReadOnlyList<RunView> all = await client.ListSeriesRunsAsync(parsed.GetValue(name)!, parsed.GetValue(limit), ct);
            context.Output.WriteLine(parsed.GetValue(json) ? JsonSerializer.Serialize(all, JobCommands.Json) : string.Join('\n', all.Select(Describe)));
            return ExitCodes.Ok;
        });

        Command run = new("run", "Run a series for a date (once per date) and wait for the run to end") { name, date, json };
        yield return WithService(run, async (parsed, client, context, ct) =>
        {
            string on = parsed.GetValue(date) ?? Today(TimeZoneInfo.Utc);
            RunView done = await RunToEndAsync(client, parsed.GetValue(name)!, on, ct);
            context.Output.WriteLine(parsed.GetValue(json) ? JsonSerializer.Serialize(done, JobCommands.Json) : $"{parsed.GetValue(name)} {Describe(done)}");
            return done.Succeeded ? ExitCodes.Ok : ExitCodes.Other;
        });
    }

    /// <summary>
    /// <c>nightly --plan FILE</c>: applies every series of the plan (creates or updates it), runs each for the scheduled
    /// date — today in the plan's time zone unless --date says otherwise — and waits for all of them; exit 0 only if
    /// every run completed or found its image unchanged.
    /// </summary>
    private static Command Nightly()
    {
        Option<string> plan = CliOptions.Text("--plan", "", "The plan: JSON {\"timeZone\": \"Europe/Berlin\", \"series\": {\"NAME\": {\"job\": {…}, \"unchanged\": …}}}", required: true);
        Option<string> date = CliOptions.Text("--date", "", "The scheduled date, yyyy-MM-dd (default: today in the plan's time zone)");
        Option<bool> json = new("--json") { Description = "Print the runs as JSON" };
        var command = new Command("nightly", "Run today's night of every series in a plan file through bundle-api (one run per series and date)") { plan, date, json };
        return WithService(command, async (parsed, client, context, ct) =>
        {
            NightlyPlan nightly = ReadPlan(parsed.GetValue(plan)!);
            TimeZoneInfo zone = ZoneOf(nightly.TimeZone);
            string on = parsed.GetValue(date) is { } given ? SeriesDefinition.RequireDate(given) : Today(zone);
            foreach ((string name, ServiceSeriesRequest definition) in nightly.Series!)
            {
                await client.PutSeriesAsync(name, definition, ct);
            }

            // Every run is started before any is waited for: they queue and run side by side in the cluster.
            foreach (string name in nightly.Series!.Keys)
            {
                await client.RunSeriesAsync(name, on, ct);
            }

            RunView[] done = await Task.WhenAll(nightly.Series.Keys.Select(name => RunToEndAsync(client, name, on, ct)));
            string[] names = [.. nightly.Series.Keys];
            if (parsed.GetValue(json))
            {
                context.Output.WriteLine(JsonSerializer.Serialize(names.Zip(done).ToDictionary(p => p.First, p => p.Second), JobCommands.Json));
            }
            else
            {
                for (int i = 0; i < names.Length; i++)
                {
                    context.Output.WriteLine($"{names[i]} {Describe(done[i])}");
                }
            }

            int failed = done.Count(r => !r.Succeeded);
            if (failed > 0)
            {
                context.Notice($"error: {failed} of {done.Length} runs of {on} did not succeed");
                return ExitCodes.Other;
            }

            return ExitCodes.Ok;
        });
    }

    private sealed record NightlyPlan
    {
        public string? TimeZone { get; init; }

        public Dictionary<string, ServiceSeriesRequest>? Series { get; init; }
    }

    private static NightlyPlan ReadPlan(string path)
    {
        if (!File.Exists(path))
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"plan '{path}' does not exist");
        }

        NightlyPlan? plan;
        try
        {
            plan = JsonSerializer.Deserialize<NightlyPlan>(File.ReadAllBytes(path), PlanJson);
        }
        catch (JsonException ex)
        {
            throw BundleException.InvalidParameter($"plan '{path}' is not a plan ({ex.Message.Split(". Path", 2)[0]}{(ex.Path is { } at ? $" at {at}" : "")})");
        }

        return plan?.Series is { Count: > 0 }
            ? plan
            : throw BundleException.InvalidParameter($"plan '{path}' names no series (\"series\": {{\"NAME\": {{\"job\": {{…}}}}}})");
    }

    private static TimeZoneInfo ZoneOf(string? name)
    {
        if (name is null)
        {
            return TimeZoneInfo.Utc;
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(name);
        }
        catch (TimeZoneNotFoundException)
        {
            throw BundleException.InvalidParameter($"the plan's time zone '{name}' is not one this machine knows (an IANA name such as Europe/Berlin)");
        }
    }

    private static string Today(TimeZoneInfo zone) =>
        TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, zone).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>Starts (or finds) the run of <paramref name="date"/> and polls it until it ends.</summary>
    private static async Task<RunView> RunToEndAsync(BundleServiceClient client, string name, string date, CancellationToken ct)
    {
        RunView run = await client.RunSeriesAsync(name, date, ct);
        while (!run.IsFinished)
        {
            await Task.Delay(RunPoll, ct);
            run = await client.GetSeriesRunAsync(name, date, ct);
        }

        return run;
    }

    private static Dictionary<string, string>? ParseLabels(string[]? labels) => labels is null or { Length: 0 } ? null
        : labels.Select(l => l.Split('=', 2)).ToDictionary(
            kv => kv.Length == 2 && kv[0].Length > 0 ? kv[0] : throw BundleException.InvalidParameter($"--label '{string.Join('=', kv)}' is not k=v"),
            kv => kv[1], StringComparer.Ordinal);

    private static void Print(CliContext context, bool json, SeriesView series) =>
        context.Output.WriteLine(json ? JsonSerializer.Serialize(series, JobCommands.Json) : Describe(series));

    internal static string Describe(SeriesView s) =>
        $"{s.Name}: {(s.Paused ? $"paused ({s.PauseReason})" : "active")}, {s.ConsecutiveFailures} failures in a row (pauses at {s.MaxConsecutiveFailures}); " +
        $"{s.Image} -> {s.Destination} at level {s.Level}; last success: {(s.LastSuccess is { } ok ? $"{ok.Date} {ok.Manifest}" : "none")}; " +
        $"last run: {(s.LastRun is { } r ? Describe(r) : "none")}";

    internal static string Describe(RunView r) =>
        $"{r.Date}: {r.State}" + r.State switch
        {
            SeriesRunState.Completed => $" ({r.SlicesReused} slices reused, {r.SlicesCompressed} compressed) {r.Manifest}",
            SeriesRunState.Unchanged => $" (nothing written) {r.Manifest}",
            SeriesRunState.Failed or SeriesRunState.Skipped => $": {r.Error}",
            _ => r.JobId is null ? "" : $" (job {r.JobId})",
        } + (r.Warnings is { Count: > 0 } w ? $"; warnings: {string.Join("; ", w)}" : "");

    /// <summary>Gives the command --service/--token (series live in bundle-api) and runs the body with its client.</summary>
    private static Command WithService(Command command, Func<ParseResult, BundleServiceClient, CliContext, CancellationToken, Task<int>> body)
    {
        Option<string> noCluster = new("--cluster") { Hidden = true };
        ServiceOptions.AddTo(command);
        command.SetAction((parsed, ct) => BundleCtl.GuardAsync(parsed, async context =>
        {
            Uri service = ServiceOptions.Url(parsed, noCluster)
                ?? throw BundleException.InvalidParameter("series live in bundle-api: give --service URL (or $BUNDLECLUSTER_SERVICE)");
            return await body(parsed, ServiceOptions.Connect(parsed, service), context, ct);
        }, ct));
        return command;
    }
}
