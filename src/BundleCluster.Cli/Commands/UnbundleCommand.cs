using BundleCluster.Storage;
using System.CommandLine;
using BundleCluster.Format.Unbundling;
using BundleCluster.Storage.S3;

namespace BundleCluster.Cli.Commands;

/// <summary><c>bundlectl unbundle</c> (ec2-unbundle's flags) and <c>bundlectl verify</c> (every check, nothing written).</summary>
internal static class UnbundleCommand
{
    public static Command Create(bool verifyOnly)
    {
        Option<string> manifest = CliOptions.Text("--manifest", "-m", "The bundle's manifest file", required: true);
        Option<string> privateKey = CliOptions.Text("--privatekey", "-k", "Your PEM RSA private key, or the cloud's (default: $EC2_PRIVATE_KEY)");
        Option<string> source = CliOptions.Text("--source", "-s", "Directory, or s3://bucket/prefix, holding the parts (default: the manifest's directory)");
        var s3 = new S3CliOptions();
        Option<string> destination = CliOptions.Text("--destination", "-d", "Directory to restore the image into (default: current directory)");
        Option<string> cert = CliOptions.Text("--cert", "-c", "Certificate to verify the manifest signature with");
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing file of the image's name in the destination" };
        var command = verifyOnly
            ? new Command("verify", "Check a bundle completely (signature, key, part digests, tar digest, size) without writing the image") { manifest, privateKey, source, cert }
            : new Command("unbundle", "Restore the image from a bundle, checking everything on the way") { manifest, privateKey, source, destination, cert, overwrite };
        s3.AddTo(command);
        command.SetAction((parsed, ct) => BundleCtl.GuardAsync(parsed, async context =>
        {
            string manifestPath = parsed.GetValue(manifest)!;
            // ec2-unbundle defaults -s to the current directory; the manifest's own directory is what users mean.
            string sourceDirectory = parsed.GetValue(source) ?? Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
            using IPartSource parts = StorageLocation.From(sourceDirectory) is S3Location bucket
                ? new S3PartSource(bucket, s3.Settings(parsed))
                : DirectoryPartSource.ForDirectory(sourceDirectory);
            var request = new UnbundleRequest(
                manifestPath,
                CliOptions.Require(parsed, privateKey, "EC2_PRIVATE_KEY"),
                parts,
                verifyOnly ? null : parsed.GetValue(destination) ?? Directory.GetCurrentDirectory(),
                parsed.GetValue(cert),
                !verifyOnly && parsed.GetValue(overwrite));
            UnbundleResult result = await Unbundler.RunAsync(request, ct);
            string checks = $"{result.PartCount} part digests, tar-stream digest, size, {result.KeyPair} key pair" +
                            (result.SignatureVerified ? ", signature" : " (signature not checked: no -c)");
            context.Output.WriteLine(verifyOnly
                ? $"verified {result.ImageName} ({CliOptions.Size(result.ImageSize)}): {checks}"
                : $"restored {result.OutputPath} ({CliOptions.Size(result.ImageSize)}{(result.Sparse ? ", sparse" : "")}); verified {checks}");
            return ExitCodes.Ok;
        }, ct));
        return command;
    }
}
