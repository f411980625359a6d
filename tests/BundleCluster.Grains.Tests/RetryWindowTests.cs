using BundleCluster.Grains.Pipeline;
using Microsoft.Extensions.Time.Testing;

namespace BundleCluster.Grains.Tests;

/// <summary>The pipeline's retry policy on a fake clock: no test waits out a real window.</summary>
public sealed class RetryWindowTests
{
    [Fact]
    public async Task A_result_report_is_retried_with_backoff_until_its_window_closes_then_the_failure_surfaces()
    {
        var clock = new FakeTimeProvider();
        var attemptsAt = new List<TimeSpan>();
        DateTimeOffset start = clock.GetUtcNow();
        Task reporting = JobReporting.ResultAsync(() =>
        {
            attemptsAt.Add(clock.GetUtcNow() - start);
            throw new TimeoutException("the job grain is moving");
        }, new RetryWindow(clock, TimeSpan.FromSeconds(2)), CancellationToken.None);

        while (!reporting.IsCompleted)
        {
            clock.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(1); // let the continuation after each backoff run
        }

        await Assert.ThrowsAsync<TimeoutException>(() => reporting);
        // Every attempt that started inside the 2 s window was followed by another after its backoff (200 ms doubling:
        // 0, 0.2, 0.6, 1.4 s on an idle machine); the first attempt after the window closed was the last.
        double[] at = attemptsAt.Select(t => t.TotalMilliseconds).ToArray();
        Assert.True(at.Length >= 4, $"attempts at {string.Join(", ", at)} ms");
        for (int i = 1; i < at.Length; i++)
        {
            Assert.True(at[i] - at[i - 1] >= RetryWindow.Backoff(i).TotalMilliseconds, $"attempt {i + 1} came early: {string.Join(", ", at)} ms");
        }

        Assert.All(at[..^1], t => Assert.True(t < 2000));
        Assert.True(at[^1] >= 2000, $"gave up inside the window: {string.Join(", ", at)} ms");
    }

    [Fact]
    public async Task A_report_that_succeeds_on_a_later_attempt_is_not_repeated()
    {
        var clock = new FakeTimeProvider();
        int attempts = 0;
        Task reporting = JobReporting.ResultAsync(() => ++attempts < 3 ? throw new TimeoutException() : Task.CompletedTask,
            new RetryWindow(clock, TimeSpan.FromMinutes(2)), CancellationToken.None);

        while (!reporting.IsCompleted)
        {
            clock.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(1);
        }

        await reporting;
        Assert.Equal(3, attempts);
    }

    [Fact]
    public void The_backoff_doubles_from_200_ms_and_stays_at_2_s()
    {
        Assert.Equal([200, 400, 800, 1600, 2000, 2000], Enumerable.Range(1, 6).Select(a => (int)RetryWindow.Backoff(a).TotalMilliseconds));
    }
}
