using System.Text.Json;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Abstractions.Series;
using BundleCluster.Client.Service;
using BundleCluster.TestSupport;

namespace BundleCluster.Cluster.Tests;

/// <summary>
/// Nightly series through bundle-api against real silo processes and Redis, dates simulated: incremental nights that
/// restore with the real tools, an unchanged night that writes nothing, a night asked for twice that runs once, and a
/// broken series that pauses itself.
/// </summary>
[Trait("Tier", "Slow")] // redis-server, two bundle-silo processes and bundle-api
public sealed class SeriesServiceTests(ApiServiceFixture service, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<ApiServiceFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    private BundleServiceClient Client(string subject = "alice") =>
        BundleServiceClient.Create(new BundleServiceOptions { Url = service.Api.BaseAddress, Token = service.Tokens.For(subject) });

    private static ServiceSeriesRequest Series(string image, string destination, UnchangedCheck? unchanged = null) => new()
    {
        Job = new ServiceJobRequest { Image = image, Destination = destination, Account = "123456789012", Identity = "dev", Level = 6 },
        Unchanged = unchanged,
    };

    private static async Task<RunView> RunToEndAsync(BundleServiceClient client, string name, string date)
    {
        RunView run = await client.RunSeriesAsync(name, date);
        using var bound = new CancellationTokenSource(Bound);
        while (!run.IsFinished)
        {
            await Task.Delay(250, bound.Token);
            run = await client.GetSeriesRunAsync(name, date, bound.Token);
        }

        return run;
    }

    [Fact]
    public async Task Three_nights_full_then_incremental_then_unchanged_and_nothing_is_written_for_the_unchanged_one()
    {
        BundleServiceClient client = Client();
        string image = TestImages.Create(Path.Combine(service.ImagesA, "web.img"), 40L << 20, seed: 81);
        Directory.CreateDirectory(Path.Combine(service.OutA, "web"));
        await client.PutSeriesAsync("web", Series(image, Path.Combine(service.OutA, "web", "{date}")));

        RunView night1 = await RunToEndAsync(client, "web", "2026-12-01");
        Assert.True(night1.State == SeriesRunState.Completed, night1.Error);
        Assert.Equal(0, night1.SlicesReused);
        Assert.Equal(Path.Combine(service.OutA, "web", "2026-12-01", "web.img.manifest.xml"), night1.Manifest);

        TestImages.RewriteBlocks(image, 0.05, 1 << 20, seed: 8); // two MiB of the image, and a day on its mtime
        RunView night2 = await RunToEndAsync(client, "web", "2026-12-02");
        output.WriteLine($"night 2: {night2.SlicesReused} slices reused, {night2.SlicesCompressed} compressed");
        Assert.True(night2.State == SeriesRunState.Completed, night2.Error);
        Assert.Null(night2.Warnings);
        Assert.Equal(11, night2.SlicesReused + night2.SlicesCompressed); // 40 MiB and the tar framing at 4 MiB slices
        Assert.InRange(night2.SlicesCompressed, 2, 5); // the header slice and the slices the rewritten MiB fell into
        string restored = ClassicPipeline.Restore(service.Dir.Path, night2.Manifest!, TestIdentity.User(service.Dir.Path));
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "web.img")), "night 2 does not restore the image with openssl, gzip and tar");

        RunView night3 = await RunToEndAsync(client, "web", "2026-12-03");
        Assert.Equal(SeriesRunState.Unchanged, night3.State);
        Assert.Equal(night2.Manifest, night3.Manifest); // it points to the bundle it stands for
        Assert.Null(night3.JobId);
        Assert.False(Directory.Exists(Path.Combine(service.OutA, "web", "2026-12-03")), "an unchanged night wrote something");

        // Content, not metadata: a new mtime on the same bytes is still unchanged.
        File.SetLastWriteTimeUtc(image, File.GetLastWriteTimeUtc(image).AddDays(1));
        RunView night4 = await RunToEndAsync(client, "web", "2026-12-04");
        Assert.Equal(SeriesRunState.Unchanged, night4.State);

        SeriesView series = await client.GetSeriesAsync("web");
        Assert.Equal(("2026-12-04", night2.Manifest), (series.LastSuccess!.Date, series.LastSuccess.Manifest));
        Assert.Equal(0, series.ConsecutiveFailures);
        Assert.Equal(["2026-12-04", "2026-12-03", "2026-12-02", "2026-12-01"], (await client.ListSeriesRunsAsync("web")).Select(r => r.Date));
    }

    [Fact]
    public async Task In_metadata_mode_the_same_version_is_unchanged_and_a_touched_image_is_bundled_again_from_the_last_night()
    {
        BundleServiceClient client = Client();
        string image = TestImages.Create(Path.Combine(service.ImagesA, "meta.img"), 20L << 20, seed: 84);
        Directory.CreateDirectory(Path.Combine(service.OutA, "meta"));
        await client.PutSeriesAsync("meta", Series(image, Path.Combine(service.OutA, "meta", "{date}"), UnchangedCheck.Metadata));

        RunView night1 = await RunToEndAsync(client, "meta", "2026-11-01");
        RunView night2 = await RunToEndAsync(client, "meta", "2026-11-02");
        File.SetLastWriteTimeUtc(image, File.GetLastWriteTimeUtc(image).AddDays(2)); // the same bytes, a new version
        RunView night3 = await RunToEndAsync(client, "meta", "2026-11-03");

        Assert.True(night1.State == SeriesRunState.Completed, night1.Error);
        Assert.Equal(SeriesRunState.Unchanged, night2.State);
        Assert.Equal(night1.Manifest, night2.Manifest);
        Assert.True(night3.State == SeriesRunState.Completed, night3.Error);
        // Only the header slice (it holds the mtime) was compressed; the rest came from night 1's bundle.
        Assert.Equal((night1.SlicesCompressed - 1, 1), (night3.SlicesReused, night3.SlicesCompressed));
        string restored = ClassicPipeline.Restore(service.Dir.Path, night3.Manifest!, TestIdentity.User(service.Dir.Path));
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "meta.img")));

        // A new series may start from a bundle made before it: its first night takes every slice from that one.
        Directory.CreateDirectory(Path.Combine(service.OutA, "meta-copy"));
        ServiceSeriesRequest seeded = Series(image, Path.Combine(service.OutA, "meta-copy", "{date}"), UnchangedCheck.Metadata);
        await client.PutSeriesAsync("meta-copy", seeded with { Job = seeded.Job! with { Baseline = night3.Manifest } });
        RunView first = await RunToEndAsync(client, "meta-copy", "2026-11-04");
        Assert.True(first.State == SeriesRunState.Completed, first.Error);
        Assert.Equal((night1.SlicesCompressed, 0), (first.SlicesReused, first.SlicesCompressed));
    }

    [Fact]
    public async Task The_same_night_asked_for_three_times_and_by_a_second_nightly_run_is_one_job()
    {
        BundleServiceClient client = Client();
        string image = TestImages.Create(Path.Combine(service.ImagesA, "twice.img"), 12L << 20, seed: 82);
        Directory.CreateDirectory(Path.Combine(service.OutA, "twice"));
        string plan = service.Dir.File("twice-plan.json");
        File.WriteAllText(plan, JsonSerializer.Serialize(new
        {
            timeZone = "Europe/Berlin",
            series = new Dictionary<string, object>
            {
                ["twice"] = new { job = new { image, destination = Path.Combine(service.OutA, "twice", "{date}"), account = "123456789012", identity = "dev" } },
            },
        }));
        var environment = new Dictionary<string, string> { ["BUNDLECLUSTER_TOKEN"] = service.Tokens.For("alice") };
        string[] nightly = ["nightly", "--plan", plan, "--date", "2026-12-05", "--service", service.Api.BaseAddress.ToString()];

        // A CronJob that fired twice: two nightly runs at once, and the same date asked for directly as well.
        using BundleCtlProcess first = BundleCtlProcess.Start(environment, nightly);
        using BundleCtlProcess second = BundleCtlProcess.Start(environment, nightly);
        Assert.Equal(0, await first.WaitAsync(Bound));
        Assert.Equal(0, await second.WaitAsync(Bound));
        RunView[] asked = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => client.RunSeriesAsync("twice", "2026-12-05")));

        Assert.Contains("twice 2026-12-05: Completed", first.StdOut);
        Assert.Contains("twice 2026-12-05: Completed", second.StdOut);
        Assert.Single(asked.Select(r => r.JobId).Distinct());
        Assert.Equal(JobIds.ForKey("team-a", "nightly/twice/2026-12-05"), asked[0].JobId);
        Assert.Single(await client.ListSeriesRunsAsync("twice"));
        IReadOnlyList<BundleJobStatus> jobs = await client.ListJobsAsync(label: "series=twice");
        Assert.Single(jobs);
        string[] files = [.. Directory.GetFiles(Path.Combine(service.OutA, "twice", "2026-12-05")).Select(f => Path.GetFileName(f)!)];
        Assert.Single(files, f => f.EndsWith(".manifest.xml", StringComparison.Ordinal));
        Assert.All(files, f => Assert.Matches(@"^twice\.img\.(manifest\.xml|manifest\.xml\.index|part\.\d+)$", f));
    }

    [Fact]
    public async Task A_series_that_fails_three_nights_running_pauses_itself_says_why_and_one_command_resumes_it()
    {
        BundleServiceClient client = Client();
        string missing = Path.Combine(service.ImagesA, "never-built.img");
        Directory.CreateDirectory(Path.Combine(service.OutA, "broken"));
        await client.PutSeriesAsync("broken", Series(missing, Path.Combine(service.OutA, "broken", "{date}")));

        foreach (string date in new[] { "2026-12-06", "2026-12-07", "2026-12-08" })
        {
            RunView failed = await RunToEndAsync(client, "broken", date);
            Assert.Equal(SeriesRunState.Failed, failed.State);
            Assert.Contains("never-built.img", failed.Error);
        }

        SeriesView paused = await client.GetSeriesAsync("broken");
        Assert.True(paused.Paused);
        Assert.Equal(3, paused.ConsecutiveFailures);
        Assert.StartsWith("paused itself after 3 failed runs in a row (the last, 2026-12-08: ", paused.PauseReason);

        // The next night is skipped, and bundlectl nightly says so with a failing exit status.
        string plan = service.Dir.File("broken-plan.json");
        File.WriteAllText(plan, JsonSerializer.Serialize(new
        {
            series = new Dictionary<string, object>
            {
                ["broken"] = new { job = new { image = missing, destination = Path.Combine(service.OutA, "broken", "{date}"), account = "123456789012", identity = "dev" } },
            },
        }));
        using BundleCtlProcess nightly = BundleCtlProcess.Start(new Dictionary<string, string> { ["BUNDLECLUSTER_TOKEN"] = service.Tokens.For("alice") },
            "nightly", "--plan", plan, "--date", "2026-12-09", "--service", service.Api.BaseAddress.ToString());
        Assert.NotEqual(0, await nightly.WaitAsync(Bound));
        Assert.Contains("broken 2026-12-09: Skipped: the series is paused: paused itself after 3 failed runs", nightly.StdOut);
        Assert.Contains("1 of 1 runs of 2026-12-09 did not succeed", nightly.StdErr);

        SeriesView resumed = await client.ResumeSeriesAsync("broken");
        Assert.False(resumed.Paused);
        Assert.Equal(0, resumed.ConsecutiveFailures);
        TestImages.Create(missing, 3L << 20, seed: 83); // fixed: the image exists now
        RunView retried = await RunToEndAsync(client, "broken", "2026-12-09"); // a skipped night may run once resumed
        Assert.True(retried.State == SeriesRunState.Completed, retried.Error);
    }

    [Fact]
    public async Task Another_tenants_series_of_the_same_name_is_not_seen_and_a_bad_definition_is_refused_with_its_field()
    {
        BundleServiceClient alice = Client();
        await alice.PutSeriesAsync("mine", Series(Path.Combine(service.ImagesA, "x.img"), Path.Combine(service.OutA, "{date}")));

        var notFound = await Assert.ThrowsAsync<Client.BundleClusterException>(() => Client("bob").GetSeriesAsync("mine"));
        Assert.Contains("no series 'mine'", notFound.Message);
        var undated = await Assert.ThrowsAsync<Client.BundleJobValidationException>(
            () => alice.PutSeriesAsync("undated", Series(Path.Combine(service.ImagesA, "x.img"), service.OutA)));
        Assert.Equal("destination", undated.Field);
        var outside = await Assert.ThrowsAsync<Client.BundleJobValidationException>(
            () => alice.PutSeriesAsync("outside", Series(Path.Combine(service.ImagesB, "x.img"), Path.Combine(service.OutA, "{date}"))));
        Assert.Equal("image", outside.Field);
        var badName = await Assert.ThrowsAsync<Client.BundleJobValidationException>(
            () => alice.PutSeriesAsync("Bad Name", Series(Path.Combine(service.ImagesA, "x.img"), Path.Combine(service.OutA, "{date}"))));
        Assert.Equal("name", badName.Field);
        var badDate = await Assert.ThrowsAsync<Client.BundleJobValidationException>(() => alice.RunSeriesAsync("mine", "2026-13-01"));
        Assert.Equal("date", badDate.Field);
    }
}
