using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests.Hostile;

/// <summary>
/// Ctrl+C and SIGTERM against a real bundlectl process: the command stops, removes what it wrote and exits 255; a
/// killed run's leftovers are reclaimed by the next run.
/// </summary>
[Trait("Tier", "Slow")] // interrupts real bundlectl processes mid-job
public sealed class SignalTests(HostileBundleFixture bundle) : IClassFixture<HostileBundleFixture>, IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);
    private readonly TempDirectory _dir = new("signals");

    /// <summary>An image slow enough to interrupt: incompressible data at level 9.</summary>
    private string SlowImage()
    {
        string image = _dir.File("slow.img");
        if (!File.Exists(image))
        {
            TestImages.Create(image, 400_000_000, seed: 9);
        }

        return image;
    }

    private static bool Staging(string destination) => Directory.GetDirectories(destination, ".bundlecluster-*").Length > 0;

    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task Bundle_image_interrupted_exits_255_and_leaves_nothing(string signal)
    {
        string destination = _dir.Sub("bundle-" + signal);
        using BundleCtlProcess run = BundleCtlProcess.Start(bundle.BundleArgs(SlowImage(), destination, "--level", "9"));
        await run.WaitUntilAsync(() => Staging(destination), Bound, "the job's staging directory");

        run.Signal(signal);
        int exitCode = await run.WaitAsync(Bound);

        Assert.True(exitCode == 255, $"exit {exitCode}; stderr: {run.StdErr}");
        Assert.Contains("bundlectl: error: interrupted", run.StdErr);
        Refusal.NothingIn(destination);
    }

    [Fact]
    public async Task Unbundle_interrupted_exits_255_and_leaves_no_partial_image()
    {
        string bundleDirectory = _dir.Sub("slow-bundle");
        using (BundleCtlProcess make = BundleCtlProcess.Start(bundle.BundleArgs(SlowImage(), bundleDirectory, "--level", "1")))
        {
            Assert.Equal(0, await make.WaitAsync(TimeSpan.FromMinutes(3)));
        }

        string restored = _dir.Sub("restored");
        using BundleCtlProcess run = BundleCtlProcess.Start("unbundle", "-m", Path.Combine(bundleDirectory, "slow.img.manifest.xml"),
            "-k", bundle.User.PrivateKeyPath, "-d", restored);
        await run.WaitUntilAsync(() => Directory.GetFiles(restored, ".*.partial").Length > 0, Bound, "the partial image");

        run.Signal("INT");
        int exitCode = await run.WaitAsync(Bound);

        Assert.True(exitCode == 255, $"exit {exitCode}; stderr: {run.StdErr}");
        Refusal.NothingIn(restored);
    }

    [Fact]
    public async Task A_second_signal_ends_the_process_at_once()
    {
        string destination = _dir.Sub("twice");
        using BundleCtlProcess run = BundleCtlProcess.Start(bundle.BundleArgs(SlowImage(), destination, "--level", "9"));
        await run.WaitUntilAsync(() => Staging(destination), Bound, "the job's staging directory");

        run.Signal("INT");
        run.Signal("INT");
        int exitCode = await run.WaitAsync(Bound);

        Assert.True(exitCode is 255 or 130, $"exit {exitCode}; stderr: {run.StdErr}");
        Assert.False(File.Exists(Path.Combine(destination, "slow.img.manifest.xml")));
    }

    [Fact]
    public async Task The_staging_of_a_killed_run_is_removed_by_the_next_run()
    {
        string destination = _dir.Sub("killed");
        using (BundleCtlProcess killed = BundleCtlProcess.Start(bundle.BundleArgs(SlowImage(), destination, "--level", "9")))
        {
            await killed.WaitUntilAsync(() => Staging(destination), Bound, "the job's staging directory");
            killed.Signal("KILL");
            await killed.WaitAsync(Bound);
        }

        Assert.True(Staging(destination), "SIGKILL leaves the staging directory (nothing can run in a killed process)");

        BundleCtlRunner.Outcome next = await Refusal.RunAsync(bundle.BundleArgs(bundle.Image, destination));

        Assert.True(next.ExitCode == 0, next.StdErr);
        Refusal.NothingIn(destination, "h.img.manifest.xml", "h.img.manifest.xml.index", "h.img.part.0", "h.img.part.1", "h.img.part.2");
    }

    public void Dispose() => _dir.Dispose();
}
