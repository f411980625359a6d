using System.CommandLine;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BundleCluster.Format.Errors;

namespace BundleCluster.Cli.Commands;

/// <summary>
/// <c>bundlectl keygen</c>: a self-signed signing identity (RSA-2048 key and X.509 certificate, PEM) for users who
/// have no EC2 X.509 certificate — enough to bundle, unbundle and verify; EC2 itself wants the cloud certificate too.
/// </summary>
internal static class KeygenCommand
{
    public static Command Create()
    {
        Option<string> directory = CliOptions.Text("--directory", "-d", "Where to write NAME-cert.pem and NAME-pk.pem (default: current directory)");
        Option<string> name = CliOptions.Text("--name", "-n", "File name stem (default: bundlectl-dev)");
        var command = new Command("keygen", "Create a self-signed development certificate and private key") { directory, name };
        command.SetAction((parsed, ct) => BundleCtl.GuardAsync(parsed, context =>
        {
            DevIdentity identity = DevIdentity.Create(parsed.GetValue(directory) ?? ".", parsed.GetValue(name) ?? "bundlectl-dev");
            context.Output.WriteLine($"certificate: {identity.CertificatePath}");
            context.Output.WriteLine($"private key: {identity.PrivateKeyPath}");
            context.Output.WriteLine($"use with: bundlectl bundle-image -c {identity.CertificatePath} -k {identity.PrivateKeyPath} -u 123456789012 -i IMAGE -d DESTDIR");
            return Task.FromResult(ExitCodes.Ok);
        }, ct));
        return command;
    }
}

/// <summary>A development signing identity in PEM files.</summary>
internal sealed record DevIdentity(string CertificatePath, string PrivateKeyPath)
{
    public static DevIdentity Create(string directory, string name)
    {
        if (!Directory.Exists(directory))
        {
            throw new BundleException(BundleErrorKind.FileNotFound, $"directory '{directory}' does not exist");
        }

        // The name becomes part of two file names in the directory: it must not lead out of it.
        if (!Format.Manifest.ManifestReader.IsBareFileName(name) || name.StartsWith('.') || name.Any(char.IsControl))
        {
            throw BundleException.InvalidParameter($"name '{name}' must be a plain file name (no '/', no leading '.'): the files are written inside -d");
        }

        var identity = new DevIdentity(Path.GetFullPath(Path.Combine(directory, $"{name}-cert.pem")), Path.GetFullPath(Path.Combine(directory, $"{name}-pk.pem")));
        if (File.Exists(identity.CertificatePath) || File.Exists(identity.PrivateKeyPath))
        {
            throw BundleException.InvalidParameter($"'{identity.CertificatePath}' or '{identity.PrivateKeyPath}' already exists; choose another --name or directory");
        }

        using RSA key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}, O=bundlectl development identity", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using X509Certificate2 cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(10));
        // CreateNew (O_EXCL) never follows a planted symlink, and the key file is created 0600: it never exists with
        // the umask's mode, not even for a moment.
        WriteNew(identity.CertificatePath, cert.ExportCertificatePem(), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        WriteNew(identity.PrivateKeyPath, key.ExportRSAPrivateKeyPem(), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        return identity;
    }

    private static void WriteNew(string path, string text, UnixFileMode mode)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }

        using var stream = new FileStream(path, options);
        stream.Write(System.Text.Encoding.ASCII.GetBytes(text));
        stream.Flush(flushToDisk: true);
    }
}
