namespace BundleCluster.Cli.Tests;

public sealed class ProgressRateTests
{
    [Fact]
    public void Throughput_and_time_left_follow_the_recent_samples()
    {
        var rate = new ProgressRate(TimeSpan.FromSeconds(5));
        rate.Add(TimeSpan.FromSeconds(0), 0);
        rate.Add(TimeSpan.FromSeconds(10), 1_000_000_000); // a fast start (holes) ...
        rate.Add(TimeSpan.FromSeconds(12), 1_200_000_000); // ... then 100 MB/s
        rate.Add(TimeSpan.FromSeconds(14), 1_400_000_000);

        Assert.Equal(100e6, rate.BytesPerSecond!.Value, 1);
        Assert.Equal(TimeSpan.FromSeconds(6), rate.Remaining(2_000_000_000));
        Assert.Equal("100 MB/s, 0:06 left", rate.Describe(2_000_000_000));
    }

    [Fact]
    public void Without_progress_the_time_left_is_unknown()
    {
        var rate = new ProgressRate();
        Assert.Equal("- MB/s, -:-- left", rate.Describe(100));
        rate.Add(TimeSpan.FromSeconds(1), 50);
        rate.Add(TimeSpan.FromSeconds(2), 50);

        Assert.Equal(0, rate.BytesPerSecond);
        Assert.Null(rate.Remaining(100));
    }
}
