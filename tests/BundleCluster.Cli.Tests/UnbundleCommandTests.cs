using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests;

/// <summary>Bad bundles through the command line: one clear line, the right exit code, and no image left behind.</summary>
public sealed class UnbundleCommandTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("cli-unbundle");
    private TestIdentity _user = null!;
    private string _bundle = null!;
    private string _manifest = null!;
    private string _restored = null!;

    public async Task InitializeAsync()
    {
        _user = TestIdentity.User(_dir.Path);
        byte[] data = new byte[23_000_000];
        new Random(5).NextBytes(data);
        File.WriteAllBytes(_dir.File("r.img"), data);
        _bundle = _dir.Sub("bundle");
        _restored = _dir.Sub("restored");
        BundleCtlRunner.Outcome made = await BundleCtlRunner.RunAsync("bundle-image", "-i", _dir.File("r.img"), "-c", _user.CertificatePath,
            "-k", _user.PrivateKeyPath, "-u", "123456789012", "-d", _bundle, "--ec2cert", TestIdentity.Cloud(_dir.Path).CertificatePath);
        Assert.Equal(0, made.ExitCode);
        _manifest = Path.Combine(_bundle, "r.img.manifest.xml");
    }

    private async Task<BundleCtlRunner.Outcome> UnbundleAsync(string? privateKey = null)
    {
        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync("unbundle", "-m", _manifest, "-k", privateKey ?? _user.PrivateKeyPath, "-d", _restored);
        string[] left = Directory.GetFileSystemEntries(_restored);
        Assert.True(left.Length == 0, $"left behind: {string.Join(", ", left)}; stderr: {run.StdErr}");
        Assert.Single(run.ErrorLines);
        return run;
    }

    [Fact]
    public async Task A_tampered_part_exits_254_naming_the_part()
    {
        using (var part = new FileStream(Path.Combine(_bundle, "r.img.part.0"), FileMode.Open))
        {
            // Flip the bits of one byte: writing a constant would leave the part intact 1 time in 256.
            part.Position = 4096;
            int original = part.ReadByte();
            part.Position = 4096;
            part.WriteByte((byte)~original);
        }

        BundleCtlRunner.Outcome run = await UnbundleAsync();

        Assert.Equal(254, run.ExitCode);
        Assert.Contains("bundle part 'r.img.part.0' is corrupt", run.StdErr);
    }

    [Fact]
    public async Task A_missing_part_exits_2()
    {
        File.Delete(Path.Combine(_bundle, "r.img.part.1"));

        BundleCtlRunner.Outcome run = await UnbundleAsync();

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("'r.img.part.1' does not exist", run.StdErr);
    }

    [Fact]
    public async Task A_wrong_private_key_exits_254()
    {
        BundleCtlRunner.Outcome run = await UnbundleAsync(TestIdentity.Other(_dir.Path).PrivateKeyPath);

        Assert.Equal(254, run.ExitCode);
        Assert.Contains("cannot decrypt the bundle key", run.StdErr);
    }

    [Fact]
    public async Task A_truncated_part_exits_254()
    {
        using (var part = new FileStream(Path.Combine(_bundle, "r.img.part.2"), FileMode.Open))
        {
            part.SetLength(part.Length - 1);
        }

        BundleCtlRunner.Outcome run = await UnbundleAsync();

        Assert.Equal(254, run.ExitCode);
        Assert.Contains("truncated", run.StdErr);
    }

    [Fact]
    public async Task A_stack_trace_appears_only_with_verbose()
    {
        File.Delete(Path.Combine(_bundle, "r.img.part.1"));

        BundleCtlRunner.Outcome verbose = await BundleCtlRunner.RunAsync("unbundle", "-m", _manifest, "-k", _user.PrivateKeyPath, "-d", _restored, "--verbose");

        Assert.Equal(2, verbose.ExitCode);
        Assert.Contains("   at ", verbose.StdErr);
    }

    public Task DisposeAsync()
    {
        _dir.Dispose();
        return Task.CompletedTask;
    }
}
