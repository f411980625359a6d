using System.CommandLine;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Format.Unbundling;

namespace BundleCluster.Cli.Commands;

/// <summary>
/// <c>bundlectl demo</c>: the quick start in one command. Generates what a new user does not have yet (a sample image,
/// a development identity, a stand-in cloud certificate) — saying so — then bundles on the embedded silo and verifies.
/// </summary>
internal static class DemoCommand
{
    private const long SampleSize = 96L << 20;

    public static Command Create()
    {
        Option<string> directory = CliOptions.Text("--directory", "-d", "Working directory for the sample image, keys and bundle (default: ./demo)");
        var command = new Command("demo", "Generate a sample image and dev keys, bundle it on the embedded silo, and verify the bundle") { directory };
        command.SetAction((parsed, ct) => BundleCtl.GuardAsync(parsed, async context =>
        {
            string root = Path.GetFullPath(parsed.GetValue(directory) ?? "demo");
            string keys = Path.Combine(root, "keys");
            string bundle = Path.Combine(root, "bundle");
            Directory.CreateDirectory(keys);
            Directory.CreateDirectory(bundle);
            DevIdentity user = LoadOrCreate(keys, "demo-user", context, "your development signing identity (self-signed; fine for trying bundlectl, not accepted by EC2)");
            DevIdentity cloud = LoadOrCreate(keys, "demo-cloud", context, "a stand-in for the cloud certificate (cert-ec2.pem) so its key pair can be tested too");
            string image = Path.Combine(root, "sample.img");
            if (!File.Exists(image))
            {
                SampleImage.Write(image, SampleSize);
                context.Output.WriteLine($"generated a sample image: {image} ({CliOptions.Size(SampleSize)}: text, random bytes and holes)");
            }

            var spec = new BundleJobSpec
            {
                ImagePath = image,
                Destination = bundle,
                User = "1234-5678-9012",
                UserCertificatePath = user.CertificatePath,
                PrivateKeyPath = user.PrivateKeyPath,
                CloudCertificatePath = cloud.CertificatePath,
                Overwrite = true,
            };
            BundleJobStatus done = await BundleImageCommand.RunEmbeddedAsync(spec, context, ct);
            context.Output.WriteLine($"bundled on the embedded silo: {done.PartsWritten} parts, {CliOptions.Size(done.BundledBytes)}, " +
                                     $"{(done.FinishedAt - done.StartedAt)?.TotalSeconds:0.0} s");
            context.Output.WriteLine($"bundle:   {done.ManifestPath}");

            UnbundleResult verified = await Unbundler.RunAsync(new UnbundleRequest(done.ManifestPath!, user.PrivateKeyPath,
                DirectoryPartSource.ForDirectory(bundle), null, user.CertificatePath), ct);
            context.Output.WriteLine($"verified: signature, {verified.PartCount} part digests, tar-stream digest and size of {verified.ImageName} — OK");
            context.Output.WriteLine($"restore it with: bundlectl unbundle -m {done.ManifestPath} -k {user.PrivateKeyPath} -d /tmp");
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private static DevIdentity LoadOrCreate(string directory, string name, CliContext context, string what)
    {
        var existing = new DevIdentity(Path.Combine(directory, $"{name}-cert.pem"), Path.Combine(directory, $"{name}-pk.pem"));
        if (File.Exists(existing.CertificatePath) && File.Exists(existing.PrivateKeyPath))
        {
            return existing;
        }

        DevIdentity created = DevIdentity.Create(directory, name);
        context.Output.WriteLine($"created {what}: {created.CertificatePath}");
        return created;
    }
}

/// <summary>A deterministic sample disk image: runs of text, runs of random bytes, and holes.</summary>
internal static class SampleImage
{
    public static void Write(string path, long size)
    {
        var random = new Random(20071010);
        byte[] text = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 2000).Select(i => $"line {i}: the bundle format is tar, gzip, AES-128-CBC and 10 MiB parts\n")));
        byte[] block = new byte[1 << 20];
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        file.SetLength(size);
        for (long offset = 0; offset < size; offset += block.Length)
        {
            switch ((offset >> 20) % 4)
            {
                case 0:
                    for (int i = 0; i < block.Length; i++)
                    {
                        block[i] = text[(i + (int)(offset % 997)) % text.Length];
                    }

                    break;
                case 1:
                    random.NextBytes(block);
                    break;
                default:
                    continue; // a hole
            }

            file.Position = offset;
            file.Write(block, 0, (int)Math.Min(block.Length, size - offset));
        }
    }
}
