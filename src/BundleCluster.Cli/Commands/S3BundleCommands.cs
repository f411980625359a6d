using System.CommandLine;
using BundleCluster.Format.Errors;
using BundleCluster.Storage.S3;

namespace BundleCluster.Cli.Commands;

/// <summary><c>bundlectl upload-bundle | download-bundle | delete-bundle</c>, with ec2-ami-tools' flags.</summary>
internal static class S3BundleCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return Upload();
        yield return Download();
        yield return Delete();
    }

    private static Option<string> BucketOption() => CliOptions.Text("--bucket", "-b", "BUCKET[/PREFIX] to use", required: true);

    private static Command Upload()
    {
        Option<string> bucket = BucketOption();
        Option<string> manifest = CliOptions.Text("--manifest", "-m", "The local manifest", required: true);
        Option<string> directory = CliOptions.Text("--directory", "-d", "Directory holding the parts (default: the manifest's)");
        var part = new Option<int>("--part") { Description = "Start at part N (resume an interrupted upload)" };
        var skipManifest = new Option<bool>("--skipmanifest") { Description = "Upload the parts only" };
        var s3 = new S3CliOptions();
        var command = new Command("upload-bundle", "Upload a bundle's parts (in parallel; parts already there are skipped), then its manifest")
        {
            bucket, manifest, directory, part, skipManifest,
        };
        s3.AddTo(command);
        command.SetAction((parsed, ct) => BundleCtl.GuardAsync(parsed, async context =>
        {
            string manifestPath = parsed.GetValue(manifest)!;
            S3Location location = S3CliOptions.Bucket(parsed.GetValue(bucket)!);
            using var store = new S3BundleStore(location, s3.Settings(parsed));
            S3BundleStore.UploadResult result = await store.UploadAsync(manifestPath,
                parsed.GetValue(directory) ?? Path.GetDirectoryName(Path.GetFullPath(manifestPath))!, parsed.GetValue(part), parsed.GetValue(skipManifest), ct);
            context.Output.WriteLine($"uploaded {result.Uploaded} parts ({result.AlreadyThere} already there) to {location}" +
                                     (result.ManifestKey is null ? "; manifest skipped" : $"; manifest s3://{location.Bucket}/{result.ManifestKey}"));
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private static Command Download()
    {
        Option<string> bucket = BucketOption();
        Option<string> prefix = CliOptions.Text("--prefix", "-p", "Bundle prefix (manifest PREFIX.manifest.xml; default: image)");
        Option<string> manifest = CliOptions.Text("--manifest", "-m", "Manifest object name");
        Option<string> directory = CliOptions.Text("--directory", "-d", "Directory to download into (default: current directory)");
        var s3 = new S3CliOptions();
        var command = new Command("download-bundle", "Download a bundle's manifest and parts (in parallel, each part's SHA-1 checked)") { bucket, prefix, manifest, directory };
        s3.AddTo(command);
        command.SetAction((parsed, ct) => BundleCtl.GuardAsync(parsed, async context =>
        {
            S3Location location = S3CliOptions.Bucket(parsed.GetValue(bucket)!);
            using var store = new S3BundleStore(location, s3.Settings(parsed));
            string path = await store.DownloadAsync(ManifestName(parsed, manifest, prefix), parsed.GetValue(directory) ?? ".", ct);
            context.Output.WriteLine($"downloaded {path} and its parts from {location}");
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private static Command Delete()
    {
        Option<string> bucket = BucketOption();
        Option<string> prefix = CliOptions.Text("--prefix", "-p", "Bundle prefix: reads PREFIX.manifest.xml from the bucket");
        Option<string> manifest = CliOptions.Text("--manifest", "-m", "Local manifest of the bundle to delete");
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation" };
        var s3 = new S3CliOptions();
        var command = new Command("delete-bundle", "Delete a bundle's parts, then its manifest") { bucket, prefix, manifest, yes };
        s3.AddTo(command);
        command.SetAction((parsed, ct) => BundleCtl.GuardAsync(parsed, async context =>
        {
            S3Location location = S3CliOptions.Bucket(parsed.GetValue(bucket)!);
            string? localManifest = parsed.GetValue(manifest);
            string name = localManifest is not null ? Path.GetFileName(localManifest) : ManifestName(parsed, manifest, prefix);
            using var store = new S3BundleStore(location, s3.Settings(parsed));
            IReadOnlyList<string> keys = await store.KeysOfBundleAsync(name, localManifest, ct);
            if (!parsed.GetValue(yes))
            {
                if (Console.IsInputRedirected || !ReferenceEquals(context.Output, Console.Out))
                {
                    throw BundleException.InvalidParameter($"delete-bundle would delete {keys.Count} objects from {location}; pass -y to confirm");
                }

                context.Output.Write($"delete {keys.Count} objects from {location}? [y/N] ");
                if (!string.Equals(Console.ReadLine()?.Trim(), "y", StringComparison.OrdinalIgnoreCase))
                {
                    return ExitCodes.Ok;
                }
            }

            await store.DeleteAsync(keys, ct);
            context.Output.WriteLine($"deleted {keys.Count} objects from {location}");
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private static string ManifestName(ParseResult parsed, Option<string> manifest, Option<string> prefix) =>
        parsed.GetValue(manifest) is { Length: > 0 } m ? Path.GetFileName(m) : (parsed.GetValue(prefix) ?? "image") + ".manifest.xml";
}
