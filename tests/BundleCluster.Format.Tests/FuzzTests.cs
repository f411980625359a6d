using BundleCluster.Fuzz;
using BundleCluster.TestSupport;

namespace BundleCluster.Format.Tests;

/// <summary>
/// The fuzz targets in the default run: every seed and every input a fuzzing run ever found (tests/fuzz/regressions)
/// replayed through the uninstrumented readers, and a one-minute AFL++ smoke run that first proves it can find a
/// planted bug. Long runs: bash tests/fuzz/run.sh MINUTES.
/// </summary>
public sealed class FuzzTests
{
    public static TheoryData<string, string> KeptInputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string kind in new[] { "seeds", "regressions" })
        {
            foreach (string target in FuzzTargets.All.Keys)
            {
                string directory = Path.Combine(RepositoryPaths.Root, "tests", "fuzz", kind, target);
                foreach (string file in Directory.Exists(directory) ? Directory.GetFiles(directory) : [])
                {
                    data.Add(target, Path.GetRelativePath(RepositoryPaths.Root, file));
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(KeptInputs))]
    public void A_kept_fuzz_input_is_refused_or_read_never_crashes(string target, string file)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(RepositoryPaths.Root, file));

        FuzzTargets.All[target](input); // any exception but BundleException fails the test
    }

    [Fact]
    [Trait("Tier", "Fuzz")] // a minute of AFL++ on both cores: scripts/test.sh runs it alone, after the rest
    public void A_short_AFL_run_finds_the_planted_bug_and_nothing_else()
    {
        ExternalTool.Result run = ExternalTool.Run("bash", [Path.Combine(RepositoryPaths.Root, "tests", "fuzz", "run.sh"), "--smoke"],
            timeout: TimeSpan.FromMinutes(8));

        Assert.True(run.ExitCode == 0, run.StdOut + run.StdErr);
        Assert.Contains("canary: planted bug found", run.StdOut);
        foreach (string target in FuzzTargets.All.Keys)
        {
            Assert.Matches($@"(?m)^{target}: [1-9][0-9]* execs .* 0 crashes, 0 hangs$", run.StdOut);
        }
    }
}
