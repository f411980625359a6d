using BundleCluster.Storage;
using System.CommandLine;
using System.Diagnostics;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Cli.Embedded;
using BundleCluster.Client;
using BundleCluster.Storage.S3;

namespace BundleCluster.Cli.Commands;

/// <summary><c>bundlectl bundle-image</c>: ec2-bundle-image's flags, run on the embedded silo.</summary>
internal static class BundleImageCommand
{
    private static readonly Option<string> Image = CliOptions.Text("--image", "-i", "The image file (or s3://bucket/key) to bundle", required: true);
    private static readonly Option<string> Cert = CliOptions.Text("--cert", "-c", "Your PEM X.509 certificate (default: $EC2_CERT)");
    private static readonly Option<string> PrivateKey = CliOptions.Text("--privatekey", "-k", "Your PEM RSA private key (default: $EC2_PRIVATE_KEY)");
    private static readonly Option<string> User = CliOptions.Text("--user", "-u", "Your 12-digit AWS account number, hyphens allowed (default: $EC2_USER_ID)");
    private static readonly Option<string> Destination = CliOptions.Text("--destination", "-d", "Directory to write the manifest and parts into", required: true);
    private static readonly Option<string> Prefix = CliOptions.Text("--prefix", "-p", "Bundle name (default: the image file name)");
    private static readonly Option<string> Arch = CliOptions.Text("--arch", "-r", "i386, x86_64 (default), armhf, ppc, ppc64 or ppc64le");
    private static readonly Option<string> Ec2Cert = CliOptions.Text("--ec2cert", "", "The cloud's PEM certificate (default: $EC2_AMITOOL_HOME/etc/ec2/amitools/cert-ec2.pem)");
    private static readonly Option<string> Kernel = CliOptions.Text("--kernel", "", "Kernel image id (aki-…)");
    private static readonly Option<string> Ramdisk = CliOptions.Text("--ramdisk", "", "Ramdisk image id (ari-…)");
    private static readonly Option<string> Mappings = CliOptions.Text("--block-device-mapping", "-B", "virtual=device,… e.g. ami=sda1,root=/dev/sda1");
    private static readonly Option<string> ProductCodes = CliOptions.Text("--productcodes", "", "Comma-separated product codes");
    private static readonly Option<int> Level = new("--level") { Description = "gzip level 1-9 (default 6; ec2-ami-tools uses 9)", DefaultValueFactory = _ => BundleJobSpec.DefaultCompressionLevel };
    private static readonly Option<int> SliceMiB = new("--slice-mib") { Description = "Tar-stream MiB per chunk work item (default 4)", DefaultValueFactory = _ => BundleJobSpec.DefaultSliceSize >> 20 };
    private static readonly Option<bool> Overwrite = new("--overwrite") { Description = "Replace a bundle with the same prefix at the destination" };
    private static readonly Option<bool> Timings = new("--timings") { Description = "Print where the time went (start-up, job, shutdown) on stderr" };
    private static readonly Option<string> Baseline = CliOptions.Text("--baseline", "",
        "The manifest of an earlier bundle of this image, signed with the same key: unchanged slices are taken from it instead of compressed (a full build, with a warning, if it cannot be used)");
    private static readonly Option<bool> Json = new("--json") { Description = "Print the final job status as JSON instead of the summary line" };
    private static readonly S3CliOptions S3 = new();
    private static readonly Option<string> Cluster = ClusterOptions.Cluster(required: false);
    private static readonly Option<bool> NoWait = new("--no-wait") { Description = "With --cluster: print the job id and return at once" };
    private static readonly Option<string> IdempotencyKey = new("--idempotency-key") { Description = "With --cluster or --service: submitting the same key again returns the same job" };
    private static readonly Option<string> Identity = CliOptions.Text("--identity", "", "With --service: the signing identity's name (the service's silos hold its keys; no -c/-k)");

    public static Command Create()
    {
        var command = new Command("bundle-image", "Bundle an image: tar, gzip, AES-128-CBC, 10 MiB parts and a signed manifest")
        {
            Image, Cert, PrivateKey, User, Destination, Prefix, Arch, Ec2Cert, Kernel, Ramdisk, Mappings, ProductCodes, Level, SliceMiB, Overwrite, Timings,
            Baseline, Json,
            Cluster, ClusterOptions.ClusterId, ClusterOptions.ServiceId, NoWait, IdempotencyKey, Identity,
        };
        S3.AddTo(command);
        ServiceOptions.AddTo(command);
        command.SetAction((parsed, ct) => BundleCtl.GuardAsync(parsed, context => RunAsync(parsed, context, ct), ct));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parsed, CliContext context, CancellationToken ct)
    {
        if (ServiceOptions.Url(parsed, Cluster) is { } service)
        {
            return await RunThroughServiceAsync(parsed, service, context, ct);
        }

        string cert = CliOptions.Require(parsed, Cert, "EC2_CERT");
        StorageLocation image = StorageLocation.From(parsed.GetValue(Image)!);
        StorageLocation destination = StorageLocation.From(parsed.GetValue(Destination)!);
        BundleJobSpec spec = new()
        {
            // Files are named by absolute path: the silos do not share this process's current directory.
            ImagePath = image is FileLocation imageFile ? Path.GetFullPath(imageFile.Path) : parsed.GetValue(Image)!,
            Destination = destination is FileLocation directory ? Path.GetFullPath(directory.Path) : parsed.GetValue(Destination)!,
            S3 = image is S3Location || destination is S3Location ? S3.Spec(parsed) : null,
            Prefix = parsed.GetValue(Prefix),
            Architecture = parsed.GetValue(Arch) ?? "x86_64",
            User = CliOptions.Require(parsed, User, "EC2_USER_ID"),
            KernelId = parsed.GetValue(Kernel),
            RamdiskId = parsed.GetValue(Ramdisk),
            BlockDeviceMappings = parsed.GetValue(Mappings),
            ProductCodes = parsed.GetValue(ProductCodes),
            UserCertificatePath = Path.GetFullPath(cert),
            PrivateKeyPath = Path.GetFullPath(CliOptions.Require(parsed, PrivateKey, "EC2_PRIVATE_KEY")),
            CloudCertificatePath = Path.GetFullPath(CloudCertificate(parsed, cert, context)),
            CompressionLevel = parsed.GetValue(Level),
            SliceSize = SliceBytes(parsed.GetValue(SliceMiB)),
            Overwrite = parsed.GetValue(Overwrite),
            Baseline = BaselineOf(parsed),
        };

        if (CliOptions.Optional(parsed, Cluster) is null)
        {
            PhaseClock? clock = parsed.GetValue(Timings) ? new PhaseClock() : null;
            BundleJobStatus embedded = await ReportingFailureAsync(parsed, context, () => RunEmbeddedAsync(spec, context, ct, clock));
            clock?.Mark("shutdown");
            Report(parsed, embedded, context);
            if (clock is not null)
            {
                context.Notice($"timings: {clock}");
            }

            return ExitCodes.Ok;
        }

        // Cluster mode: the silos read the image and write the bundle, so the paths must be valid on them.
        await using ConnectedBundleCluster connection = await ClusterOptions.ConnectAsync(parsed, Cluster, ct);
        string jobId;
        using (CallerTrace.FromEnvironment())
        {
            jobId = await connection.Client.SubmitAsync(spec, parsed.GetValue(IdempotencyKey), ct);
        }

        return await FollowAsync(parsed, connection.Client, jobId, context, ct);
    }

    /// <summary>
    /// Through bundle-api: the request names a signing identity instead of key files, and paths as the service's
    /// silos see them (absolute, or s3://); then follows the job like --cluster does.
    /// </summary>
    private static async Task<int> RunThroughServiceAsync(ParseResult parsed, Uri service, CliContext context, CancellationToken ct)
    {
        foreach (Option<string> keyFlag in new[] { Cert, PrivateKey, Ec2Cert })
        {
            if (parsed.GetValue(keyFlag) is not null)
            {
                throw Format.Errors.BundleException.InvalidParameter($"{keyFlag.Name} does not go with --service: the service signs with --identity NAME");
            }
        }

        var request = new Client.Service.ServiceJobRequest
        {
            Image = parsed.GetValue(Image),
            Destination = parsed.GetValue(Destination),
            Prefix = parsed.GetValue(Prefix),
            Arch = parsed.GetValue(Arch),
            Account = CliOptions.Require(parsed, User, "EC2_USER_ID"),
            Kernel = parsed.GetValue(Kernel),
            Ramdisk = parsed.GetValue(Ramdisk),
            BlockDeviceMappings = parsed.GetValue(Mappings) is { } mappings ? ParseMappings(mappings) : null,
            ProductCodes = parsed.GetValue(ProductCodes)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList(),
            Level = parsed.GetValue(Level),
            Overwrite = parsed.GetValue(Overwrite) ? true : null,
            Identity = CliOptions.Require(parsed, Identity),
            Baseline = parsed.GetValue(Baseline), // as the service's silos see it, like --image
        };
        Client.Service.BundleServiceClient client = ServiceOptions.Connect(parsed, service);
        string jobId = await client.SubmitAsync(request, parsed.GetValue(IdempotencyKey), ct);
        return await FollowAsync(parsed, client, jobId, context, ct);
    }

    /// <summary>-B's "virtual=device,…" as the service's map; a malformed pair is refused here, naming it.</summary>
    private static Dictionary<string, string> ParseMappings(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(pair => pair.Split('=', 2))
            .Select(kv => kv.Length == 2 && kv[0].Length > 0 && kv[1].Length > 0
                ? (kv[0], kv[1])
                : throw Format.Errors.BundleException.InvalidParameter($"-B '{text}': each mapping is virtual=device"))
            .ToDictionary(kv => kv.Item1, kv => kv.Item2, StringComparer.Ordinal);

    /// <summary>Prints the job id and returns (--no-wait), or follows the job to its end and prints the summary.</summary>
    private static async Task<int> FollowAsync(ParseResult parsed, IBundleJobClient client, string jobId, CliContext context, CancellationToken ct)
    {
        if (parsed.GetValue(NoWait))
        {
            context.Output.WriteLine(jobId);
            return ExitCodes.Ok;
        }

        context.Notice($"job {jobId} submitted; following it (Ctrl+C stops following, not the job)");
        var progress = new ProgressLine(context);
        BundleJobStatus done;
        try
        {
            done = await ReportingFailureAsync(parsed, context, () => client.WaitAsync(jobId, new SyncProgress(progress.Show), ct));
        }
        finally
        {
            progress.Clear();
        }

        Report(parsed, done, context);
        return ExitCodes.Ok;
    }

    /// <summary>--baseline as the silos need it: a file by absolute path (they do not share this directory), s3:// as given.</summary>
    private static string? BaselineOf(ParseResult parsed) => parsed.GetValue(Baseline) is { Length: > 0 } baseline
        ? StorageLocation.From(baseline) is FileLocation file ? Path.GetFullPath(file.Path) : baseline
        : null;

    /// <summary>The job's warnings on stderr, one line each; then the summary line, or with --json the whole status.</summary>
    private static void Report(ParseResult parsed, BundleJobStatus done, CliContext context)
    {
        foreach (string warning in done.Warnings ?? [])
        {
            context.Notice($"warning: {warning}");
        }

        context.Output.WriteLine(parsed.GetValue(Json) ? JobCommands.ToJson(done) : Summary(done));
    }

    /// <summary>With --json a failed job's status is printed too (stdout), before its error line and exit code.</summary>
    private static async Task<BundleJobStatus> ReportingFailureAsync(ParseResult parsed, CliContext context, Func<Task<BundleJobStatus>> run)
    {
        try
        {
            return await run();
        }
        catch (Client.BundleJobFailedException failed) when (parsed.GetValue(Json))
        {
            context.Output.WriteLine(JobCommands.ToJson(failed.Status));
            throw;
        }
    }

    /// <summary>Runs one job on an in-process silo and waits for it, cancelling it (and cleaning up) on Ctrl+C.</summary>
    internal static async Task<BundleJobStatus> RunEmbeddedAsync(BundleJobSpec spec, CliContext context, CancellationToken ct, PhaseClock? clock = null)
    {
        await using EmbeddedCluster cluster = await EmbeddedCluster.StartAsync(context.Verbose, ct);
        clock?.Mark("start-up");
        var client = new BundleClusterClient(cluster.Grains, TimeSpan.FromMilliseconds(20)); // in-process: polling is nearly free
        // Submitting is quick and must not be cut short: a job submitted but not yet acknowledged could not be cancelled.
        string jobId;
        using (CallerTrace.FromEnvironment())
        {
            jobId = await client.SubmitAsync(spec, ct: CancellationToken.None);
        }

        var progress = new ProgressLine(context);
        try
        {
            BundleJobStatus completed = await client.WaitAsync(jobId, new SyncProgress(progress.Show), ct);
            clock?.Mark("job");
            return completed;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await client.CancelAsync(jobId, "interrupted", CancellationToken.None);
            throw;
        }
        finally
        {
            progress.Clear();
        }
    }

    /// <summary>--slice-mib in bytes, range-checked before the shift can overflow (2048 MiB would be negative).</summary>
    private static int SliceBytes(int mib) => mib is >= 1 and <= 64
        ? mib << 20
        : throw Format.Errors.BundleException.InvalidParameter($"--slice-mib {mib} is outside 1-64 (MiB of tar stream per work item)");

    /// <summary>--ec2cert, else ec2-ami-tools' installed cert-ec2.pem, else the user's own certificate (with a warning).</summary>
    private static string CloudCertificate(ParseResult parsed, string userCert, CliContext context)
    {
        if (CliOptions.Optional(parsed, Ec2Cert) is { } given)
        {
            return given;
        }

        if (Environment.GetEnvironmentVariable("EC2_AMITOOL_HOME") is { Length: > 0 } home
            && Path.Combine(home, "etc", "ec2", "amitools", "cert-ec2.pem") is var installed && File.Exists(installed))
        {
            return installed;
        }

        context.Notice("warning: no --ec2cert given and no $EC2_AMITOOL_HOME/etc/ec2/amitools/cert-ec2.pem; the cloud key fields are wrapped to your own certificate, so EC2 cannot register this bundle");
        return userCert;
    }

    private static string Summary(BundleJobStatus s)
    {
        TimeSpan elapsed = (s.FinishedAt ?? DateTimeOffset.UtcNow) - (s.StartedAt ?? DateTimeOffset.UtcNow);
        double mbps = s.ImageBytes / 1e6 / Math.Max(elapsed.TotalSeconds, 0.001);
        return $"bundled {s.Prefix} ({CliOptions.Size(s.ImageBytes)}) into {s.PartsWritten} parts of {CliOptions.Size(s.BundledBytes)} " +
               $"at level {s.CompressionLevel} in {elapsed.TotalSeconds:0.0} s ({mbps:0} MB/s): {s.ManifestPath}";
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool and race the final clear).</summary>
    private sealed class SyncProgress(Action<BundleJobStatus> report) : IProgress<BundleJobStatus>
    {
        public void Report(BundleJobStatus value) => report(value);
    }

    /// <summary>A single self-updating progress line on an interactive stderr; silent when stderr is redirected.</summary>
    private sealed class ProgressLine(CliContext context)
    {
        private readonly bool _interactive = ReferenceEquals(context.Error, Console.Error) && !Console.IsErrorRedirected;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly ProgressRate _rate = new();

        public void Show(BundleJobStatus s)
        {
            if (!_interactive || s.TarBytes == 0)
            {
                return;
            }

            double sealedPercent = 100.0 * s.TarBytesSealed / s.TarBytes;
            double digestPercent = 100.0 * s.TarBytesDigested / s.TarBytes;
            _rate.Add(_clock.Elapsed, s.TarBytesSealed);
            context.Error.Write($"\rsealed {sealedPercent,5:0.0}%  digested {digestPercent,5:0.0}%  {_rate.Describe(s.TarBytes)}  parts {s.PartsWritten}  silos {s.Silos.Count}  {_clock.Elapsed:mm\\:ss}   ");
        }

        public void Clear()
        {
            if (_interactive)
            {
                context.Error.Write("\r" + new string(' ', 120) + "\r");
            }
        }
    }
}
