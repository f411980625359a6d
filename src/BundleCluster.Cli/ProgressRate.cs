namespace BundleCluster.Cli;

/// <summary>
/// Throughput and time left of a job from its progress samples, over the last few seconds (a job's speed changes:
/// holes fly, text crawls, so the whole-run average would mislead late in a job).
/// </summary>
internal sealed class ProgressRate(TimeSpan window)
{
    private readonly Queue<(TimeSpan At, long Done)> _samples = new();

    public ProgressRate()
        : this(TimeSpan.FromSeconds(5))
    {
    }

    /// <summary>Records that <paramref name="done"/> of the work was done at <paramref name="at"/> (a monotonic clock).</summary>
    public void Add(TimeSpan at, long done)
    {
        _samples.Enqueue((at, done));
        while (_samples.Count > 2 && at - _samples.Peek().At > window)
        {
            _samples.Dequeue();
        }
    }

    /// <summary>Bytes per second over the window, or null before there are two samples apart in time.</summary>
    public double? BytesPerSecond
    {
        get
        {
            if (_samples.Count < 2)
            {
                return null;
            }

            (TimeSpan firstAt, long firstDone) = _samples.Peek();
            (TimeSpan lastAt, long lastDone) = _samples.Last();
            double seconds = (lastAt - firstAt).TotalSeconds;
            return seconds <= 0 ? null : Math.Max(0, lastDone - firstDone) / seconds;
        }
    }

    /// <summary>The time left to reach <paramref name="total"/> at the current rate; null while unknown.</summary>
    public TimeSpan? Remaining(long total)
    {
        double? rate = BytesPerSecond;
        if (rate is not > 0 || _samples.Count == 0)
        {
            return null;
        }

        long left = Math.Max(0, total - _samples.Last().Done);
        return TimeSpan.FromSeconds(Math.Min(left / rate.Value, TimeSpan.FromDays(99).TotalSeconds));
    }

    /// <summary>"123 MB/s, 1:05 left", or "—" parts while unknown.</summary>
    public string Describe(long total)
    {
        string speed = BytesPerSecond is { } r ? $"{r / 1e6:0} MB/s" : "- MB/s";
        string left = Remaining(total) is { } t ? $"{(int)t.TotalMinutes}:{t.Seconds:00} left" : "-:-- left";
        return $"{speed}, {left}";
    }
}
