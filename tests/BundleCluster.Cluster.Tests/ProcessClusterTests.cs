using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Client;
using BundleCluster.TestSupport;
using Xunit.Abstractions;

namespace BundleCluster.Cluster.Tests;

/// <summary>Real bundle-silo processes clustered through a real redis-server, killed for real.</summary>
[Trait("Tier", "Slow")] // real bundle-silo processes and Redis
public sealed class ProcessClusterTests(ITestOutputHelper output) : IDisposable
{
    private readonly RedisServer _redis = new();
    private readonly TempDirectory _dir = new("procs");
    private readonly string _clusterId = "test-" + Guid.NewGuid().ToString("N")[..8];
    private readonly List<SiloProcess> _silos = [];

    private async Task<SiloProcess[]> StartSilosAsync(int count, params string[] flags)
    {
        SiloProcess[] started = Enumerable.Range(0, count).Select(_ => new SiloProcess(_redis.Address, _clusterId, [_dir.Path], flags: flags)).ToArray();
        _silos.AddRange(started);
        foreach (SiloProcess silo in started)
        {
            await silo.WaitStartedAsync();
        }

        return started;
    }

    private Task<ConnectedBundleCluster> ConnectAsync() => BundleClusterConnection.ConnectAsync(new BundleClusterConnectionOptions
    {
        Redis = _redis.Address,
        ClusterId = _clusterId,
        ServiceId = _clusterId,
    });

    [Fact]
    public async Task A_job_survives_a_silo_killed_with_sigkill_and_its_bundle_restores_with_real_tools()
    {
        SiloProcess[] silos = await StartSilosAsync(2);
        await using ConnectedBundleCluster cluster = await ConnectAsync();
        string image = ClusterJobs.BusyImage(_dir.File("kill.img"), 150_000_000, seed: 41);
        string jobId = await cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub("bundle"), level: 9));
        BundleJobStatus before = await ClusterJobs.WaitForProgressAsync(cluster.Client, jobId, 0.15);

        silos[1].Kill();
        var sinceKill = Stopwatch.StartNew();
        // The in-order sealer stalls on the dead silo's slices until they are redone elsewhere: measure that gap.
        TimeSpan? redoneAfter = null;
        await foreach (BundleJobStatus s in cluster.Client.WatchAsync(jobId, TimeSpan.FromMilliseconds(200)).WithCancellation(CancellationToken.None))
        {
            if (s.IsFinished || s.TarBytesSealed > before.TarBytesSealed + 16 * (1 << 20))
            {
                redoneAfter = sinceKill.Elapsed;
                break;
            }
        }

        BundleJobStatus done = await cluster.Client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(4));

        output.WriteLine($"killed at {before.TarBytesSealed} of {before.TarBytes} tar bytes sealed; sealing moved 16 MiB past that {redoneAfter?.TotalSeconds:0.0} s after the kill; finished {sinceKill.Elapsed.TotalSeconds:0.0} s after it; per silo: {string.Join(", ", done.Silos)}");
        await ClusterJobs.AssertRestoresAsync(_dir.Path, done, image);
    }

    [Fact]
    public async Task Killing_the_sealers_silo_resumes_sealing_at_a_part_boundary_without_rewriting_durable_parts()
    {
        SiloProcess[] silos = await StartSilosAsync(2);
        await using ConnectedBundleCluster cluster = await ConnectAsync();
        string image = ClusterJobs.BusyImage(_dir.File("sealer.img"), 150_000_000, seed: 43);
        string jobId = await cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub("bundle"), level: 9));
        BundleJobStatus before = await ClusterJobs.WaitForProgressAsync(cluster.Client, jobId, 0.4);
        SiloProcess sealerSilo = ClusterJobs.SealerOf(silos, before);

        sealerSilo.Kill();
        var sinceKill = Stopwatch.StartNew();
        BundleJobStatus done = await cluster.Client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(4));

        output.WriteLine($"sealer silo killed with {before.PartsWritten} parts written; the new sealer kept {done.PartsResumed} and rewrote {done.PartsRewritten}; finished {sinceKill.Elapsed.TotalSeconds:0.0} s later");
        Assert.True(done.PartsResumed > 0, "the restarted sealer rewrote every part");
        // A killed sealer loses only what it staged after its last checkpoint: at most the two writes in flight and
        // the part whose boundary waited for the next slice.
        Assert.InRange(done.PartsRewritten, 0, 3);
        Assert.NotEqual(before.SealerSilo, done.SealerSilo);
        await ClusterJobs.AssertRestoresAsync(_dir.Path, done, image);
    }

    [Fact]
    public async Task An_incremental_job_whose_sealers_silo_is_killed_resumes_and_its_bundle_and_index_stay_right()
    {
        SiloProcess[] silos = await StartSilosAsync(2);
        await using ConnectedBundleCluster cluster = await ConnectAsync();
        string image = ClusterJobs.BusyImage(_dir.File("nightly.img"), 150_000_000, seed: 44);
        BundleJobSpec night1 = ClusterJobs.Spec(_dir.Path, image, _dir.Sub("night-1"), level: 9);
        BundleJobStatus first = await cluster.Client.WaitAsync(await cluster.Client.SubmitAsync(night1));
        TestImages.RewriteBlocks(image, 0.3, 1 << 20, seed: 5); // about half the slices change: compression paces the job

        string jobId = await cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub("night-2"), level: 9) with { Baseline = first.ManifestPath });
        BundleJobStatus before = await ClusterJobs.WaitForProgressAsync(cluster.Client, jobId, 0.2);
        Assert.False(before.IsFinished, "the job ended before its sealer could be killed");
        ClusterJobs.SealerOf(silos, before).Kill();
        BundleJobStatus done = await cluster.Client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(4));

        output.WriteLine($"night 2: sealer on {before.SealerSilo} killed at {before.TarBytesSealed} of {before.TarBytes} tar bytes; finished by {done.SealerSilo}; {done.SlicesReused} slices reused, {done.SlicesCompressed} compressed, {done.BaselineBytesRead} baseline bytes read; {done.PartsResumed} parts resumed");
        // A sealer that reported its last slice just before its silo died leaves nothing to resume (status updates come
        // every 500 ms); a sealer that had to be started again must resume, not start over.
        if (done.SealerSilo != before.SealerSilo)
        {
            Assert.True(done.PartsResumed > 0, "the new sealer started over instead of resuming");
        }

        Assert.Null(done.Warnings);
        Assert.Equal(first.SlicesCompressed, done.SlicesReused + done.SlicesCompressed);
        Assert.InRange(done.SlicesReused, first.SlicesCompressed / 3, first.SlicesCompressed - 1);
        await ClusterJobs.AssertRestoresAsync(_dir.Path, done, image);

        // Night 3, nothing changed: the index the resumed sealer completed covers every slice, and every one is right.
        BundleJobStatus third = await cluster.Client.WaitAsync(await cluster.Client.SubmitAsync(
            ClusterJobs.Spec(_dir.Path, image, _dir.Sub("night-3"), level: 9) with { Baseline = done.ManifestPath }));
        Assert.Equal((first.SlicesCompressed, 0), (third.SlicesReused, third.SlicesCompressed));
        await ClusterJobs.AssertRestoresAsync(_dir.Path, third, image);
    }

    [Fact]
    public async Task A_silo_that_joins_mid_job_receives_chunk_work_of_that_job_within_seconds()
    {
        // One compression slot each (one core's worth), so the job outlasts the new silo's start-up and the new silo
        // really is more capacity.
        await StartSilosAsync(1, "--compression-slots", "1");
        await using ConnectedBundleCluster cluster = await ConnectAsync();
        string image = ClusterJobs.BusyImage(_dir.File("join.img"), 600_000_000, seed: 46);
        string jobId = await cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub("bundle"), level: 9));
        BundleJobStatus before = await ClusterJobs.WaitForProgressAsync(cluster.Client, jobId, 0.05);
        Assert.False(before.IsFinished);

        var joining = Stopwatch.StartNew();
        SiloProcess joined = (await StartSilosAsync(1, "--compression-slots", "1")).Single(); // a scale-out: the autoscaler adds a pod
        TimeSpan started = joining.Elapsed;
        TimeSpan? gotWork = null;
        await foreach (BundleJobStatus s in cluster.Client.WatchAsync(jobId, TimeSpan.FromMilliseconds(100)))
        {
            if (s.Silos.Keys.Any(k => k.Contains($":{joined.SiloPort}:", StringComparison.Ordinal)))
            {
                gotWork = joining.Elapsed;
                break;
            }

            if (s.IsFinished)
            {
                break;
            }
        }

        BundleJobStatus done = await cluster.Client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(4));
        output.WriteLine($"the new silo started in {started.TotalSeconds:0.0} s and sealed slices of the running job {gotWork?.TotalSeconds:0.0} s after its start was asked; shares: {string.Join(", ", done.Silos)}");
        Assert.NotNull(gotWork);
        Assert.True(gotWork - started < TimeSpan.FromSeconds(10), $"the joined silo waited {(gotWork - started)?.TotalSeconds:0.0} s for work");
        await ClusterJobs.AssertRestoresAsync(_dir.Path, done, image);
    }

    [Fact]
    public async Task SIGTERM_of_the_sealers_silo_hands_the_sealer_over_and_no_durable_part_is_rewritten()
    {
        SiloProcess[] silos = await StartSilosAsync(2);
        await using ConnectedBundleCluster cluster = await ConnectAsync();
        string image = ClusterJobs.BusyImage(_dir.File("drain.img"), 150_000_000, seed: 44);
        string jobId = await cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub("bundle"), level: 9));
        BundleJobStatus before = await ClusterJobs.WaitForProgressAsync(cluster.Client, jobId, 0.3);
        Assert.False(before.IsFinished, "the job finished before its sealer's silo could be stopped");
        SiloProcess sealerSilo = ClusterJobs.SealerOf(silos, before);

        var drain = Stopwatch.StartNew();
        sealerSilo.Terminate();
        int exitCode = await sealerSilo.WaitForExitAsync(TimeSpan.FromSeconds(60));
        TimeSpan drained = drain.Elapsed;
        BundleJobStatus done = await cluster.Client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(4));

        output.WriteLine($"SIGTERM with {before.PartsWritten} parts cut: the silo exited ({exitCode}) after {drained.TotalSeconds:0.0} s; the new sealer kept {done.PartsResumed} parts and rewrote {done.PartsRewritten}; finished {drain.Elapsed.TotalSeconds:0.0} s after the signal");
        Assert.Equal(0, exitCode);
        Assert.Contains("sealer handed over", sealerSilo.Log, StringComparison.Ordinal);
        Assert.Equal(0, done.PartsRewritten);
        Assert.True(done.PartsResumed > 0, "the sealer that took over kept nothing of its predecessor");
        Assert.NotEqual(before.SealerSilo, done.SealerSilo);
        await ClusterJobs.AssertRestoresAsync(_dir.Path, done, image);
    }

    [Fact]
    public async Task A_whole_cluster_restart_mid_job_resumes_and_completes()
    {
        SiloProcess[] first = await StartSilosAsync(2);
        string image = ClusterJobs.BusyImage(_dir.File("restart.img"), 100_000_000, seed: 42);
        string jobId;
        await using (ConnectedBundleCluster cluster = await ConnectAsync())
        {
            jobId = await cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub("bundle"), level: 9));
            await ClusterJobs.WaitForProgressAsync(cluster.Client, jobId, 0.15);
        }

        foreach (SiloProcess silo in first)
        {
            silo.Kill();
        }

        await StartSilosAsync(2);
        await using ConnectedBundleCluster again = await ConnectAsync();
        BundleJobStatus done = await again.Client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(4));

        await ClusterJobs.AssertRestoresAsync(_dir.Path, done, image);
    }

    [Fact]
    public async Task Queued_jobs_survive_a_whole_cluster_restart_and_run_one_at_a_time_to_completion()
    {
        SiloProcess[] first = await StartSilosAsync(2, "--max-running-jobs", "1");
        string busy = ClusterJobs.BusyImage(_dir.File("q0.img"), 150_000_000, seed: 60); // still running when its silos die
        var images = new List<string> { busy };
        var jobs = new List<string>();
        await using (ConnectedBundleCluster cluster = await ConnectAsync())
        {
            jobs.Add(await cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, busy, _dir.Sub("q0"), level: 9)));
            for (int i = 1; i <= 2; i++)
            {
                images.Add(TestImages.Create(_dir.File($"q{i}.img"), 3_000_000, seed: 60 + i));
                jobs.Add(await cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, images[i], _dir.Sub($"q{i}"))));
            }

            BundleJobStatus running = await ClusterJobs.WaitForProgressAsync(cluster.Client, jobs[0], 0.10);
            BundleJobStatus[] waiting = await Task.WhenAll(jobs.Skip(1).Select(id => cluster.Client.GetStatusAsync(id)));
            string states = string.Join("; ", waiting.Prepend(running).Select(j => $"{j.State} at {j.QueuePosition} {j.Error}"));
            Assert.True(running.State == BundleJobState.Running, states);
            Assert.True(waiting.Select(j => j.QueuePosition).SequenceEqual(new int?[] { 1, 2 }), states);
        }

        foreach (SiloProcess silo in first)
        {
            silo.Kill();
        }

        await StartSilosAsync(2, "--max-running-jobs", "1");
        await using ConnectedBundleCluster again = await ConnectAsync();
        var finished = new Dictionary<string, BundleJobStatus>();
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        while (finished.Count < jobs.Count)
        {
            BundleJobStatus[] now;
            try
            {
                now = await Task.WhenAll(jobs.Select(id => again.Client.GetStatusAsync(id, bound.Token)));
            }
            catch (ClusterUnreachableException)
            {
                // Until membership declares the killed silos dead, a call may go to one of them and time out (the
                // SDK's WatchAsync rides this out the same way).
                continue;
            }

            Assert.True(now.Count(s => s.State == BundleJobState.Running) <= 1, "two jobs ran at once; the limit is 1");
            foreach (BundleJobStatus done in now.Where(s => s.IsFinished))
            {
                finished[done.JobId] = done;
            }

            await Task.Delay(200, bound.Token);
        }

        for (int i = 0; i < jobs.Count; i++)
        {
            await ClusterJobs.AssertRestoresAsync(_dir.Path, finished[jobs[i]], images[i]);
        }

        Assert.True(finished[jobs[1]].RunningSince >= finished[jobs[0]].FinishedAt, "the first waiting job ran after the running one");
        Assert.True(finished[jobs[2]].RunningSince >= finished[jobs[1]].FinishedAt, "and the second after the first");
    }

    [Fact]
    public async Task Eight_concurrent_jobs_all_complete_and_verify()
    {
        await StartSilosAsync(2);
        await using ConnectedBundleCluster cluster = await ConnectAsync();
        var jobs = new List<(string Id, string Image)>();
        for (int i = 0; i < 8; i++)
        {
            string image = TestImages.Create(_dir.File($"c{i}.img"), 6_000_000 + i * 100_000, seed: 50 + i, withHoles: i % 2 == 0);
            jobs.Add((await cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub($"bundle{i}"))), image));
        }

        foreach ((string id, string image) in jobs)
        {
            BundleJobStatus done = await cluster.Client.WaitAsync(id).WaitAsync(TimeSpan.FromMinutes(3));
            await ClusterJobs.AssertRestoresAsync(_dir.Path, done, image);
        }

        Assert.Equal(8, (await cluster.Client.ListJobsAsync()).Count(s => s.State == BundleJobState.Completed));
    }

    [Fact]
    public async Task Paths_outside_the_allowed_roots_are_refused()
    {
        await StartSilosAsync(1);
        await using ConnectedBundleCluster cluster = await ConnectAsync();
        using var elsewhere = new TempDirectory("outside");
        string outsideImage = TestImages.Create(elsewhere.File("secret.img"), 1000, seed: 1);
        string insideImage = TestImages.Create(_dir.File("ok.img"), 1000, seed: 1);

        BundleJobValidationException image = await Assert.ThrowsAsync<BundleJobValidationException>(
            () => cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, outsideImage, _dir.Sub("bundle"))));
        BundleJobValidationException destination = await Assert.ThrowsAsync<BundleJobValidationException>(
            () => cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, insideImage, elsewhere.Path)));

        Assert.Equal("image", image.Field);
        Assert.Contains("outside the directories this cluster may use", image.Message);
        Assert.Equal("destination", destination.Field);
        Assert.Equal([elsewhere.File("secret.img")], Directory.GetFileSystemEntries(elsewhere.Path)); // nothing written there
    }

    [Fact]
    public async Task A_symlink_swapped_to_a_file_outside_the_roots_after_submit_is_never_read()
    {
        // The race of the review: pass the allowed-root check with a file inside, then point the path elsewhere (same
        // size, same mtime) while the silos are still reading. Every reader re-opens the path and must find the file
        // that was checked, by device and inode.
        await StartSilosAsync(1);
        await using ConnectedBundleCluster cluster = await ConnectAsync();
        using var elsewhere = new TempDirectory("outside");
        string inside = ClusterJobs.BusyImage(_dir.File("inside.img"), 150_000_000, seed: 44);
        string outside = ClusterJobs.BusyImage(elsewhere.File("secret.img"), 150_000_000, seed: 45);
        File.SetLastWriteTimeUtc(outside, File.GetLastWriteTimeUtc(inside));
        string link = _dir.File("image.img");
        File.CreateSymbolicLink(link, inside);
        string bundle = _dir.Sub("swapped");

        string jobId = await cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, link, bundle, level: 9));
        File.CreateSymbolicLink(link + ".new", outside);
        File.Move(link + ".new", link, overwrite: true); // rename(2): the path never stops existing
        BundleJobStatus done = await cluster.Client.GetStatusAsync(jobId);
        while (!done.IsFinished)
        {
            await Task.Delay(100);
            done = await cluster.Client.GetStatusAsync(jobId);
        }

        Assert.Equal(BundleJobState.Failed, done.State);
        Assert.True(done.Error!.Contains("no longer the file that was planned", StringComparison.Ordinal), done.Error);
        var cleanup = Stopwatch.StartNew(); // the job removes its staging just after it reports the failure
        while (Directory.GetFileSystemEntries(bundle).Length > 0 && cleanup.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100);
        }

        Assert.Empty(Directory.GetFileSystemEntries(bundle).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_symlink_inside_the_roots_to_a_file_outside_is_refused_at_submit()
    {
        await StartSilosAsync(1);
        await using ConnectedBundleCluster cluster = await ConnectAsync();
        using var elsewhere = new TempDirectory("outside");
        string link = _dir.File("innocent.img");
        File.CreateSymbolicLink(link, TestImages.Create(elsewhere.File("secret.img"), 1000, seed: 1));

        BundleJobValidationException refused = await Assert.ThrowsAsync<BundleJobValidationException>(
            () => cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, link, _dir.Sub("bundle-link"))));

        Assert.Equal("image", refused.Field);
        Assert.Contains("outside the directories this cluster may use", refused.Message);
    }

    [Fact]
    public async Task Ctrl_C_on_bundlectl_with_cluster_stops_following_and_the_job_goes_on()
    {
        await StartSilosAsync(1);
        await using ConnectedBundleCluster cluster = await ConnectAsync();
        string image = ClusterJobs.BusyImage(_dir.File("follow.img"), 150_000_000, seed: 46);
        string bundle = _dir.Sub("followed");
        TestIdentity user = TestIdentity.User(_dir.Path);
        using BundleCtlProcess follow = BundleCtlProcess.Start("bundle-image", "-i", image, "-c", user.CertificatePath, "-k", user.PrivateKeyPath,
            "-u", "123456789012", "-d", bundle, "--ec2cert", TestIdentity.Cloud(_dir.Path).CertificatePath, "--level", "9",
            "--cluster", _redis.Address, "--cluster-id", _clusterId, "--service-id", _clusterId, "--idempotency-key", "followed-job");
        await follow.WaitUntilAsync(() => follow.StdErr.Contains("job followed-job submitted", StringComparison.Ordinal), TimeSpan.FromMinutes(1), "the submission");

        follow.Signal("INT");
        int exitCode = await follow.WaitAsync(TimeSpan.FromMinutes(1));
        BundleJobStatus done = await cluster.Client.WaitAsync("followed-job").WaitAsync(TimeSpan.FromMinutes(3));

        Assert.True(exitCode == 255, $"exit {exitCode}; stderr: {follow.StdErr}");
        Assert.Equal(BundleJobState.Completed, done.State);
        await ClusterJobs.AssertRestoresAsync(_dir.Path, done, image);
    }

    [Theory]
    [InlineData("--compression-slots", "0", "CompressionSlots (--compression-slots) is 0")]
    [InlineData("--compression-slots", "-3", "CompressionSlots (--compression-slots) is -3")]
    [InlineData("--slices-in-flight", "0", "SlicesInFlight (--slices-in-flight) is 0")]
    [InlineData("--silo-port", "70000", "--silo-port 70000 is not a TCP port")]
    [InlineData("--http-port", "0", "--http-port 0 is not a TCP port")]
    [InlineData("--redis", ",,,", "--redis ',,,' names no HOST:PORT")]
    [InlineData("--advertise", "silo.local", "--advertise 'silo.local' is not an IP address")]
    [InlineData("--allowed-root", "/nonexistent-root", "names '/nonexistent-root', which is not an existing directory")]
    [InlineData("--cluster-id", " ", "--cluster-id must not be empty")]
    public void A_silo_with_an_invalid_setting_refuses_to_start_naming_it(string flag, string value, string expected)
    {
        // Before any Redis is reached: the address given is never listened on.
        ExternalTool.Result run = ExternalTool.Run("dotnet", [RepositoryPaths.SiloDll, "--redis", $"127.0.0.1:{RedisServer.FreePort()}",
            "--allowed-root", _dir.Path, "--silo-port", RedisServer.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--gateway-port", RedisServer.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), flag, value], timeout: TimeSpan.FromMinutes(1));

        Assert.Equal(1, run.ExitCode);
        string line = Assert.Single(run.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("bundle-silo: error: ", line[..20]);
        Assert.Contains(expected, line);
    }

    [Fact]
    public async Task Bundlectl_reaches_silos_started_with_their_own_service_id()
    {
        var silo = new SiloProcess(_redis.Address, _clusterId, [_dir.Path], serviceId: "svc-" + _clusterId);
        _silos.Add(silo);
        await silo.WaitStartedAsync();

        BundleCtlMemory.Result jobs = BundleCtlMemory.Run("jobs", "--cluster", _redis.Address, "--cluster-id", _clusterId, "--service-id", "svc-" + _clusterId);
        BundleCtlMemory.Result withoutServiceId = BundleCtlMemory.Run("jobs", "--cluster", _redis.Address, "--cluster-id", _clusterId);

        Assert.True(jobs.ExitCode == 0, jobs.StdErr);
        Assert.Equal(254, withoutServiceId.ExitCode); // the service id is not the cluster id: Redis keys membership by it
        Assert.Contains("cannot reach the cluster", withoutServiceId.StdErr);
    }

    [Fact]
    public async Task A_service_binds_the_client_from_configuration_and_bad_settings_fail_at_start()
    {
        await StartSilosAsync(1);
        static IHost Service(Dictionary<string, string?> settings)
        {
            HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ContentRootPath = AppContext.BaseDirectory });
            builder.Configuration.AddInMemoryCollection(settings);
            builder.AddBundleClusterClient();
            return builder.Build();
        }

        using IHost good = Service(new() { ["BundleCluster:Redis"] = _redis.Address, ["BundleCluster:ClusterId"] = _clusterId, ["BundleCluster:ServiceId"] = _clusterId });
        using IHost bad = Service(new() { ["BundleCluster:Redis"] = ",,,", ["BundleCluster:ClusterId"] = _clusterId, ["BundleCluster:ServiceId"] = "" });

        await good.StartAsync();
        IReadOnlyList<BundleJobStatus> jobs = await good.Services.GetRequiredService<BundleClusterClient>().ListJobsAsync();
        OptionsValidationException refused = await Assert.ThrowsAsync<OptionsValidationException>(() => bad.StartAsync());
        await good.StopAsync();

        Assert.NotNull(jobs);
        Assert.Contains("Redis ',,,' names no HOST:PORT", refused.Failures);
        Assert.Contains("ServiceId must not be empty", refused.Failures);
    }

    [Fact]
    public async Task A_job_on_two_silo_processes_reaches_a_real_OTLP_backend_as_one_trace_over_grpc_and_http()
    {
        using var dashboard = new AspireDashboard();
        await dashboard.WaitStartedAsync();
        // One silo exports over gRPC, the other over HTTP/protobuf; batches leave every 200 ms instead of 5 s.
        SiloProcess[] silos =
        [
            new(_redis.Address, _clusterId, [_dir.Path], environment: new Dictionary<string, string>
            {
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = dashboard.GrpcEndpoint,
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc",
                ["OTEL_SERVICE_NAME"] = "silo-grpc",
                ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            }),
            new(_redis.Address, _clusterId, [_dir.Path], environment: new Dictionary<string, string>
            {
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = dashboard.HttpEndpoint,
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
                ["OTEL_RESOURCE_ATTRIBUTES"] = "service.name=silo-http,deployment.environment=test",
                ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            }),
        ];
        _silos.AddRange(silos);
        await Task.WhenAll(silos.Select(s => s.WaitStartedAsync()));
        await using ConnectedBundleCluster cluster = await ConnectAsync();
        string image = ClusterJobs.BusyImage(_dir.File("otlp.img"), 30_000_000, seed: 44);

        string jobId = await cluster.Client.SubmitAsync(ClusterJobs.Spec(_dir.Path, image, _dir.Sub("bundle")));
        BundleJobStatus done = await cluster.Client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(3));
        Assert.Equal(BundleJobState.Completed, done.State);
        Assert.Equal(2, done.Silos.Count);

        List<AspireDashboard.ReceivedSpan> trace = [];
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(30); await Task.Delay(500))
        {
            trace = await dashboard.TraceAsync(done.TraceId!);
            if (trace.Any(s => s.Name == "bundle.job") && ChunkServices(trace).Count == 2)
            {
                break;
            }
        }

        output.WriteLine($"{trace.Count} spans in trace {done.TraceId}: " + string.Join(", ", trace.GroupBy(s => s.Name).Select(g => $"{g.Key}×{g.Count()}")));
        Assert.All(trace, s => Assert.Equal(done.TraceId, s.TraceId));
        AspireDashboard.ReceivedSpan root = Assert.Single(trace, s => s.Name == "bundle.job");
        Assert.Equal("Completed", root.Attributes["bundlecluster.job.outcome"]);
        Assert.Equal(jobId, root.Attributes["bundlecluster.job.id"]);
        Assert.Equal(["silo-grpc", "silo-http"], ChunkServices(trace));
        Assert.Contains(trace, s => s.Resource.GetValueOrDefault("deployment.environment") == "test");
        Assert.Equal(done.PartsWritten, trace.Count(s => s.Name == "bundle.part.write"));

        static List<string> ChunkServices(List<AspireDashboard.ReceivedSpan> spans) =>
            spans.Where(s => s.Name == "bundle.chunk.compress").Select(s => s.Resource.GetValueOrDefault("service.name") ?? "?").Distinct().Order().ToList();
    }

    [Fact]
    public async Task Bundlectl_joins_the_trace_its_caller_names_in_TRACEPARENT()
    {
        using var dashboard = new AspireDashboard();
        await dashboard.WaitStartedAsync();
        TestIdentity user = TestIdentity.User(_dir.Path);
        string image = ClusterJobs.BusyImage(_dir.File("ci.img"), 3_000_000, seed: 45);
        string pipelineTrace = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        string pipelineSpan = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

        using BundleCtlProcess run = BundleCtlProcess.Start(new Dictionary<string, string>
            {
                ["TRACEPARENT"] = $"00-{pipelineTrace}-{pipelineSpan}-01", // as a CI system hands it to a step
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = dashboard.HttpEndpoint,
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            },
            "bundle-image", "-i", image, "-c", user.CertificatePath, "-k", user.PrivateKeyPath, "-u", "123456789012",
            "-d", _dir.Sub("bundle"), "--ec2cert", TestIdentity.Cloud(_dir.Path).CertificatePath);
        Assert.True(await run.WaitAsync(TimeSpan.FromMinutes(2)) == 0, run.StdErr);

        List<AspireDashboard.ReceivedSpan> trace = [];
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(20) && !trace.Any(s => s.Name == "bundle.commit"); await Task.Delay(250))
        {
            trace = await dashboard.TraceAsync(pipelineTrace);
        }

        AspireDashboard.ReceivedSpan root = Assert.Single(trace, s => s.Name == "bundle.job");
        Assert.Equal("Completed", root.Attributes["bundlecluster.job.outcome"]);
        Assert.Equal("bundlectl", root.Resource["service.name"]);
        Assert.Contains(trace, s => s.Name == "bundle.chunk.compress");
    }

    [Fact]
    public async Task Readiness_follows_Redis_away_and_back_while_liveness_stays_healthy()
    {
        SiloProcess silo = (await StartSilosAsync(1))[0];
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        async Task<int> Status(string path) => (int)(await http.GetAsync($"http://127.0.0.1:{silo.HttpPort}{path}")).StatusCode;
        async Task<bool> Eventually(string path, int status, TimeSpan within)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < within)
            {
                if (await Status(path) == status)
                {
                    return true;
                }

                await Task.Delay(250);
            }

            return false;
        }

        bool readyAtStart = await Eventually("/health/ready", 200, TimeSpan.FromSeconds(30));
        int startup = await Status("/health/startup");
        int liveAtStart = await Status("/health/live");
        _redis.Stop();
        bool notReadyWithoutRedis = await Eventually("/health/ready", 503, TimeSpan.FromSeconds(20));
        int liveWithoutRedis = await Status("/health/live");
        _redis.Start();
        bool readyAgain = await Eventually("/health/ready", 200, TimeSpan.FromSeconds(60));
        int liveAtEnd = await Status("/health/live");

        Assert.True(readyAtStart, silo.Log);
        Assert.Equal(200, startup);
        Assert.True(notReadyWithoutRedis, "ready stayed healthy with Redis stopped");
        Assert.True(readyAgain, "ready did not recover when Redis came back; " + silo.Log[^Math.Min(2000, silo.Log.Length)..]);
        Assert.Equal([200, 200, 200], [liveAtStart, liveWithoutRedis, liveAtEnd]);
    }

    [Fact]
    public async Task Redis_unavailable_gives_a_clear_error_not_a_hang()
    {
        var clock = Stopwatch.StartNew();

        ClusterUnreachableException ex = await Assert.ThrowsAsync<ClusterUnreachableException>(() =>
            BundleClusterConnection.ConnectAsync(new BundleClusterConnectionOptions { Redis = $"127.0.0.1:{RedisServer.FreePort()}" }));

        Assert.Contains("cannot reach the cluster through Redis", ex.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }

    public void Dispose()
    {
        foreach (SiloProcess silo in _silos)
        {
            silo.Dispose();
        }

        _redis.Dispose();
        _dir.Dispose();
    }
}
