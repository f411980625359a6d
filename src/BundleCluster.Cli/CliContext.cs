namespace BundleCluster.Cli;

/// <summary>Where a command writes: results on stdout, one line per error or notice on stderr.</summary>
internal sealed class CliContext(TextWriter output, TextWriter error, bool verbose)
{
    public TextWriter Output { get; } = output;

    public TextWriter Error { get; } = error;

    public bool Verbose { get; } = verbose;

    public void Notice(string message) => Error.WriteLine($"bundlectl: {message}");

    public void Fail(string message) => Error.WriteLine($"bundlectl: error: {message}");
}
