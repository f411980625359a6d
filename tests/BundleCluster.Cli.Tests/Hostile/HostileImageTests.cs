using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests.Hostile;

/// <summary>bundle-image and keygen given what is not an image, a bad flag value, or a destination another run is using.</summary>
public sealed class HostileImageTests(HostileBundleFixture bundle) : IClassFixture<HostileBundleFixture>, IDisposable
{
    private readonly TempDirectory _dir = new("hostile-image");

    [Theory]
    [InlineData("fifo", "is a FIFO")]
    [InlineData("/dev/zero", "is a character device")]
    [InlineData("/dev/null", "is a character device")]
    [InlineData("/proc/cpuinfo", "reports a size of 0 bytes but has content")]
    [InlineData("/dev/loop0", "is a block device")] // the first block device found
    [InlineData("directory", "is a directory")]
    public async Task An_image_that_is_not_a_regular_file_with_content_is_refused_with_no_bundle(string image, string expected)
    {
        if (image == "fifo")
        {
            image = _dir.File("image-fifo");
            ExternalTool.Bash($"mkfifo '{image}'");
        }
        else if (image == "directory")
        {
            image = _dir.Sub("a-directory");
        }
        else if (image == "/dev/loop0")
        {
            image = BlockDevice();
        }

        string destination = _dir.Sub("out-" + Guid.NewGuid().ToString("N")[..6]);

        BundleCtlRunner.Outcome run = await Refusal.RunAsync(bundle.BundleArgs(image, destination, "-p", "x"));

        Refusal.Assert(run, 1, expected);
        Refusal.NothingIn(destination);
    }

    /// <summary>A block device to name: the machine's first, or (as root) a node made for the test.</summary>
    private string BlockDevice()
    {
        string found = ExternalTool.Bash("find /dev -maxdepth 1 -type b | sort | head -1").Trim();
        if (found.Length > 0)
        {
            return found;
        }

        string node = _dir.File("block-device");
        ExternalTool.Bash($"mknod '{node}' b 7 0");
        return node;
    }

    [Fact]
    public async Task A_slice_size_that_would_overflow_is_refused_before_conversion()
    {
        BundleCtlRunner.Outcome run = await Refusal.RunAsync(bundle.BundleArgs(bundle.Image, _dir.Sub("out"), "--slice-mib", "2048"));

        Refusal.Assert(run, 1, "--slice-mib 2048 is outside 1-64");
    }

    [Fact]
    public async Task A_destination_that_is_a_file_says_so()
    {
        string file = _dir.File("plain-file");
        File.WriteAllText(file, "x");

        BundleCtlRunner.Outcome run = await Refusal.RunAsync(bundle.BundleArgs(bundle.Image, file));

        Refusal.Assert(run, 1, "is a file, not a directory");
    }

    [Fact]
    public async Task Two_runs_into_one_prefix_never_mix_and_one_fails_clearly()
    {
        string destination = _dir.Sub("shared");
        Task<BundleCtlRunner.Outcome> first = Refusal.RunAsync(bundle.BundleArgs(bundle.Image, destination, "--overwrite"));
        Task<BundleCtlRunner.Outcome> second = Refusal.RunAsync(bundle.BundleArgs(bundle.Image, destination, "--overwrite"));
        BundleCtlRunner.Outcome[] runs = await Task.WhenAll(first, second);

        // Either they overlapped (one is refused by the prefix lock) or they did not (both succeed, one after the
        // other); in no case do two runs both write at once.
        foreach (BundleCtlRunner.Outcome run in runs.Where(r => r.ExitCode != 0))
        {
            Refusal.Assert(run, 1, "another bundle-image run is writing a bundle named 'h.img'");
        }

        Assert.Contains(runs, r => r.ExitCode == 0);
        BundleCtlRunner.Outcome verify = await Refusal.RunAsync("verify", "-m", Path.Combine(destination, "h.img.manifest.xml"),
            "-k", bundle.User.PrivateKeyPath, "-c", bundle.User.CertificatePath);
        Assert.True(verify.ExitCode == 0, verify.StdErr);
        Refusal.NothingIn(destination, "h.img.manifest.xml", "h.img.manifest.xml.index", "h.img.part.0", "h.img.part.1", "h.img.part.2");
    }

    [Fact]
    public async Task A_held_prefix_lock_refuses_a_second_writer()
    {
        string destination = _dir.Sub("locked");
        using Storage.Sinks.DirectoryLock? held = Storage.Sinks.DirectoryLock.TryTake(Path.Combine(destination, ".h.img.bundlecluster-lock"));
        Assert.NotNull(held);

        BundleCtlRunner.Outcome run = await Refusal.RunAsync(bundle.BundleArgs(bundle.Image, destination));

        Refusal.Assert(run, 1, "another bundle-image run is writing a bundle named 'h.img'");
        Refusal.NothingIn(destination, ".h.img.bundlecluster-lock");
    }

    [Fact]
    public async Task Overwriting_with_fewer_parts_removes_the_old_extra_parts()
    {
        string destination = _dir.Sub("overwrite");
        foreach (string file in Directory.GetFiles(bundle.Bundle))
        {
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        }

        string small = TestImages.Create(_dir.File("h.img"), 3_000_000, seed: 4);

        BundleCtlRunner.Outcome run = await Refusal.RunAsync(bundle.BundleArgs(small, destination, "--overwrite"));

        Assert.True(run.ExitCode == 0, run.StdErr);
        Refusal.NothingIn(destination, "h.img.manifest.xml", "h.img.manifest.xml.index", "h.img.part.0");
    }

    [Fact]
    public async Task Keygen_refuses_a_name_that_leads_out_of_the_directory()
    {
        string inside = _dir.Sub("keys");

        BundleCtlRunner.Outcome run = await Refusal.RunAsync("keygen", "-d", inside, "-n", "../escaped");

        Refusal.Assert(run, 1, "must be a plain file name");
        Refusal.NothingIn(inside);
        Assert.False(File.Exists(_dir.File("escaped-pk.pem")));
    }

    [Fact]
    public async Task Keygen_creates_the_private_key_owner_only()
    {
        string keys = _dir.Sub("mode");

        BundleCtlRunner.Outcome run = await Refusal.RunAsync("keygen", "-d", keys, "-n", "me");

        Assert.True(run.ExitCode == 0, run.StdErr);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, OperatingSystem.IsWindows() ? default : File.GetUnixFileMode(Path.Combine(keys, "me-pk.pem")));
    }

    public void Dispose() => _dir.Dispose();
}
