using System.CommandLine;
using BundleCluster.Cli.Commands;
using BundleCluster.Client;
using BundleCluster.Format.Errors;

namespace BundleCluster.Cli;

/// <summary>
/// <c>bundlectl</c>: ec2-ami-tools-style commands (same flags, same exit codes) on the BundleCluster engine.
/// Every error is one line on stderr and an exit code; stack traces only with --verbose.
/// </summary>
public static class BundleCtl
{
    internal static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Show progress details, silo logs and stack traces",
        Recursive = true,
    };

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken ct = default)
    {
        var root = new RootCommand("bundlectl: EC2 instance-store bundles (manifest 2007-10-10), made in parallel on Microsoft Orleans")
        {
            Options = { Verbose },
            Subcommands =
            {
                BundleImageCommand.Create(),
                UnbundleCommand.Create(verifyOnly: false),
                UnbundleCommand.Create(verifyOnly: true),
                KeygenCommand.Create(),
                TokenCommand.Create(),
                DemoCommand.Create(),
            },
        };
        foreach (Command command in JobCommands.Create().Concat(S3BundleCommands.Create()).Concat(SeriesCommands.Create()))
        {
            root.Subcommands.Add(command);
        }

        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var parseError in parsed.Errors)
            {
                error.WriteLine($"bundlectl: error: {parseError.Message}");
            }

            error.WriteLine($"Try '{parsed.CommandResult.Command.Name} --help'.");
            return ExitCodes.BadParameters;
        }

        // Signals are handled by the caller (InterruptSignals), which cancels ct; System.CommandLine's own handler would
        // kill the process two seconds after Ctrl+C, before cleanup finished.
        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, ProcessTerminationTimeout = null }, ct);
    }

    /// <summary>Runs a command body, turning every failure into one stderr line and an ec2-ami-tools exit code.</summary>
    internal static async Task<int> GuardAsync(ParseResult parsed, Func<CliContext, Task<int>> body, CancellationToken ct)
    {
        var context = new CliContext(parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error, parsed.GetValue(Verbose));
        try
        {
            return await body(context);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            context.Fail("interrupted");
            return ExitCodes.Interrupted;
        }
        catch (BundleException ex)
        {
            return Report(context, ex, ex.Message, ExitCodes.For(ex.Kind));
        }
        catch (BundleJobValidationException ex)
        {
            return Report(context, ex, ex.Message, ExitCodes.For(ex.ErrorKind));
        }
        catch (BundleClusterException ex)
        {
            return Report(context, ex, ex.Message, ExitCodes.For(ex.ErrorKind));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Report(context, ex, ex.Message, ExitCodes.Other);
        }
        catch (Exception ex)
        {
            return Report(context, ex, $"unexpected {ex.GetType().Name}: {ex.Message}", ExitCodes.Other);
        }
    }

    private static int Report(CliContext context, Exception ex, string message, int exitCode)
    {
        context.Fail(message);
        if (context.Verbose)
        {
            context.Error.WriteLine(ex.ToString());
        }

        return exitCode;
    }
}
