using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests;

/// <summary>
/// The start-up JIT profile (BundleCluster.Hosting.StartupJitProfile) of a real bundlectl process: recorded by the
/// first run, replayed by the next, and never a reason for a run to fail or to write where it should not.
/// </summary>
[Trait("Tier", "Slow")] // runs bundlectl as separate processes
public sealed class StartupJitProfileTests : IDisposable
{
    private const string ProfileDirectory = "BUNDLECLUSTER_JIT_PROFILE_DIR";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);
    private readonly TempDirectory _dir = new("jit-profile");
    private readonly TestIdentity _user;
    private readonly TestIdentity _cloud;
    private readonly string _image;

    public StartupJitProfileTests()
    {
        _user = TestIdentity.User(_dir.Path);
        _cloud = TestIdentity.Cloud(_dir.Path);
        _image = TestImages.Create(_dir.File("disk.img"), 3_000_000, seed: 21);
    }

    private async Task<BundleCtlProcess> BundleAsync(IReadOnlyDictionary<string, string> environment, string destination)
    {
        BundleCtlProcess run = BundleCtlProcess.Start(environment, "bundle-image", "-i", _image, "-c", _user.CertificatePath,
            "-k", _user.PrivateKeyPath, "-u", "123456789012", "-d", destination, "--ec2cert", _cloud.CertificatePath);
        int exitCode = await run.WaitAsync(Bound);
        Assert.True(exitCode == 0, $"exit {exitCode}; stderr: {run.StdErr}");
        Assert.Equal("", run.StdErr);
        Assert.True(File.Exists(Path.Combine(destination, "disk.img.manifest.xml")));
        return run;
    }

    [Fact]
    public async Task The_first_run_records_a_profile_per_command_and_a_damaged_profile_is_rewritten_without_harm()
    {
        string profiles = _dir.Sub("profiles");
        var environment = new Dictionary<string, string> { [ProfileDirectory] = profiles };

        (await BundleAsync(environment, _dir.Sub("first"))).Dispose();

        string profile = Assert.Single(Directory.GetFiles(profiles));
        Assert.Equal("bundlectl-bundle-image.jitprofile", Path.GetFileName(profile));
        Assert.True(new FileInfo(profile).Length > 10_000, "a bundle-image run JIT-compiles thousands of methods");

        // Someone else's bytes (or a write cut short): the run is unaffected and leaves a fresh profile behind.
        byte[] garbage = new byte[50_000];
        new Random(5).NextBytes(garbage);
        File.WriteAllBytes(profile, garbage);
        (await BundleAsync(environment, _dir.Sub("second"))).Dispose();

        Assert.NotEqual(garbage, File.ReadAllBytes(profile));
        string restored = ClassicPipeline.Restore(_dir.Path, Path.Combine(_dir.Path, "second", "disk.img.manifest.xml"), _user);
        Assert.True(TestImages.SameContent(_image, Path.Combine(restored, "disk.img")));
    }

    [Fact]
    public async Task Off_writes_no_profile_and_a_directory_that_cannot_be_made_is_ignored()
    {
        string cache = _dir.Sub("xdg-cache");
        (await BundleAsync(new Dictionary<string, string> { ["XDG_CACHE_HOME"] = cache, [ProfileDirectory] = "off" }, _dir.Sub("off"))).Dispose();
        Assert.Empty(Directory.GetFileSystemEntries(cache));

        // A path below a regular file can never be a directory.
        string blocked = Path.Combine(_image, "profiles");
        (await BundleAsync(new Dictionary<string, string> { [ProfileDirectory] = blocked }, _dir.Sub("blocked"))).Dispose();

        // Without the variable: $XDG_CACHE_HOME/bundlecluster.
        (await BundleAsync(new Dictionary<string, string> { ["XDG_CACHE_HOME"] = cache, [ProfileDirectory] = "" }, _dir.Sub("default"))).Dispose();
        Assert.Equal(["bundlectl-bundle-image.jitprofile"],
            Directory.GetFiles(Path.Combine(cache, "bundlecluster")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_command_word_from_the_command_line_never_names_a_file_outside_the_profile_directory()
    {
        string profiles = _dir.Sub("profiles");
        using BundleCtlProcess run = BundleCtlProcess.Start(new Dictionary<string, string> { [ProfileDirectory] = profiles },
            "../../escaped");

        Assert.NotEqual(0, await run.WaitAsync(Bound)); // not a command: the usual parse error

        Assert.Equal(["bundlectl.jitprofile"], Directory.GetFiles(profiles).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFiles(_dir.Path, "*escaped*", SearchOption.AllDirectories));
    }

    public void Dispose() => _dir.Dispose();
}
