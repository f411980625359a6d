using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests.Hostile;

/// <summary>One genuine three-part bundle made by bundlectl, which each hostile-input test copies and then breaks.</summary>
public sealed class HostileBundleFixture : IAsyncLifetime
{
    public TempDirectory Dir { get; } = new("hostile");

    public TestIdentity User { get; private set; } = null!;

    public TestIdentity Cloud { get; private set; } = null!;

    public string Image { get; private set; } = null!;

    public string Bundle { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        User = TestIdentity.User(Dir.Path);
        Cloud = TestIdentity.Cloud(Dir.Path);
        byte[] data = new byte[23_000_000]; // incompressible: three parts
        new Random(8).NextBytes(data);
        Image = Dir.File("h.img");
        File.WriteAllBytes(Image, data);
        Bundle = Dir.Sub("bundle");
        BundleCtlRunner.Outcome made = await BundleCtlRunner.RunAsync(BundleArgs(Image, Bundle));
        Assert.True(made.ExitCode == 0, made.StdErr);
    }

    public string[] BundleArgs(string image, string destination, params string[] more) =>
        ["bundle-image", "-i", image, "-c", User.CertificatePath, "-k", User.PrivateKeyPath, "-u", "123456789012",
         "-d", destination, "--ec2cert", Cloud.CertificatePath, .. more];

    /// <summary>A private copy of the genuine bundle; returns its manifest path.</summary>
    public string CopyBundle(string directory)
    {
        foreach (string file in Directory.GetFiles(Bundle))
        {
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)));
        }

        return Path.Combine(directory, "h.img.manifest.xml");
    }

    public Task DisposeAsync()
    {
        Dir.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>What every refusal must look like: the exit code, exactly one line on stderr naming the cause, in bounded time.</summary>
internal static class Refusal
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    public static async Task<BundleCtlRunner.Outcome> RunAsync(params string[] args) =>
        await BundleCtlRunner.RunAsync(args).WaitAsync(Bound);

    public static void Assert(BundleCtlRunner.Outcome run, int exitCode, string expected)
    {
        Xunit.Assert.True(run.ExitCode == exitCode, $"exit {run.ExitCode}, expected {exitCode}; stderr: {run.StdErr}");
        string line = Xunit.Assert.Single(run.ErrorLines);
        Xunit.Assert.Contains(expected, line);
        Xunit.Assert.StartsWith("bundlectl: error: ", line);
    }

    public static void NothingIn(string directory, params string[] except)
    {
        string[] left = Directory.GetFileSystemEntries(directory).Select(Path.GetFileName).Where(n => !except.Contains(n)).ToArray()!;
        Xunit.Assert.True(left.Length == 0, $"left behind in {directory}: {string.Join(", ", left)}");
    }
}
