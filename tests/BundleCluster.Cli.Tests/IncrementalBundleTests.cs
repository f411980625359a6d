using System.Text.Json;
using BundleCluster.TestSupport;

namespace BundleCluster.Cli.Tests;

/// <summary>
/// bundle-image --baseline: unchanged slices are taken from the previous bundle, changed ones compressed, and the
/// result is a bundle the real tools restore byte for byte; a baseline that cannot be trusted or used means a full
/// build with one warning, never a failed or wrong bundle.
/// </summary>
public sealed class IncrementalBundleTests : IDisposable
{
    private const int SliceMiB = 1;
    private const long ImageBytes = 48L << 20;
    private readonly TempDirectory _dir = new("incremental");
    private readonly TestIdentity _user;
    private readonly TestIdentity _cloud;

    public IncrementalBundleTests()
    {
        _user = TestIdentity.User(_dir.Path);
        _cloud = TestIdentity.Cloud(_dir.Path);
    }

    public void Dispose() => _dir.Dispose();

    private string[] BundleArgs(string image, string dest, TestIdentity? signer = null, params string[] extra) =>
    [
        "bundle-image", "-i", image, "-c", (signer ?? _user).CertificatePath, "-k", (signer ?? _user).PrivateKeyPath, "-u", "1234-5678-9012",
        "-d", dest, "--ec2cert", _cloud.CertificatePath, "--slice-mib", $"{SliceMiB}", "--json", .. extra,
    ];

    private static int SliceCount => (int)((512 + ImageBytes + 1024 + (SliceMiB << 20) - 1) / (SliceMiB << 20)); // header, image, end blocks

    /// <summary>Night 1: the image bundled in full; returns its manifest.</summary>
    private async Task<(string Image, string Manifest)> FirstNightAsync()
    {
        string image = TestImages.Create(_dir.File("disk.img"), ImageBytes, seed: 71);
        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync(BundleArgs(image, _dir.Sub("night-1")));
        Assert.True(run.ExitCode == 0, run.StdErr);
        using JsonDocument status = JsonDocument.Parse(run.StdOut);
        Assert.Equal(0, status.RootElement.GetProperty("slicesReused").GetInt32());
        Assert.Equal(SliceCount, status.RootElement.GetProperty("slicesCompressed").GetInt32());
        string manifest = Path.Combine(_dir.Path, "night-1", "disk.img.manifest.xml");
        Assert.True(File.Exists(manifest + ".index"), "every bundle gets a slice index beside its manifest");
        return (image, manifest);
    }

    /// <summary>The slices of the tar stream a rewrite of these image blocks touches, and slice 0 (the header's mtime).</summary>
    private static HashSet<int> TouchedSlices(IReadOnlyList<long> offsets, int blockSize)
    {
        int slice = SliceMiB << 20;
        var touched = new HashSet<int> { 0 };
        foreach (long offset in offsets)
        {
            touched.Add((int)((512 + offset) / slice));
            touched.Add((int)((512 + offset + blockSize - 1) / slice));
        }

        return touched;
    }

    private void RequireRestoresExactly(string manifest, string image)
    {
        string restored = ClassicPipeline.Restore(_dir.Path, manifest, _user);
        ClassicPipeline.VerifySignature(_dir.Path, manifest, _user);
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, Path.GetFileName(image))), "restored with openssl, gzip and tar: not the image");
    }

    private static string ElementOf(string manifest, string tag) =>
        File.ReadAllText(manifest).Split($"<{tag}")[1].Split('>', 2)[1].Split($"</{tag}>")[0]; // <digest algorithm="SHA1">

    [Fact]
    public async Task Night_two_with_5_percent_of_blocks_rewritten_reuses_every_unchanged_slice_and_restores_with_openssl_gzip_and_tar()
    {
        (string image, string night1) = await FirstNightAsync();
        const int block = 1 << 20;
        IReadOnlyList<long> rewritten = TestImages.RewriteBlocks(image, 0.05, block, seed: 2);
        HashSet<int> touched = TouchedSlices(rewritten, block);

        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync(BundleArgs(image, _dir.Sub("night-2"), extra: ["--baseline", night1]));

        Assert.True(run.ExitCode == 0, run.StdErr);
        Assert.Empty(run.StdErr);
        using JsonDocument status = JsonDocument.Parse(run.StdOut);
        JsonElement s = status.RootElement;
        Assert.Equal("Completed", s.GetProperty("state").GetString());
        Assert.Equal(touched.Count, s.GetProperty("slicesCompressed").GetInt32());
        Assert.Equal(SliceCount - touched.Count, s.GetProperty("slicesReused").GetInt32());
        long night1Bytes = Directory.GetFiles(Path.GetDirectoryName(night1)!, "disk.img.part.*").Sum(f => new FileInfo(f).Length);
        Assert.InRange(s.GetProperty("baselineBytesRead").GetInt64(), 1, night1Bytes); // each part read at most once
        Assert.Equal(JsonValueKind.Null, s.GetProperty("warnings").ValueKind);
        string night2 = s.GetProperty("manifestPath").GetString()!;
        RequireRestoresExactly(night2, image);
        Assert.NotEqual(ElementOf(night1, "user_encrypted_key"), ElementOf(night2, "user_encrypted_key")); // a fresh AES key
        Assert.NotEqual(ElementOf(night1, "digest"), ElementOf(night2, "digest"));

        // Night 3, nothing changed (not even the mtime): every slice comes from night 2's bundle, through night 2's own index.
        BundleCtlRunner.Outcome third = await BundleCtlRunner.RunAsync(BundleArgs(image, _dir.Sub("night-3"), extra: ["--baseline", night2]));

        Assert.True(third.ExitCode == 0, third.StdErr);
        using JsonDocument thirdStatus = JsonDocument.Parse(third.StdOut);
        Assert.Equal(SliceCount, thirdStatus.RootElement.GetProperty("slicesReused").GetInt32());
        Assert.Equal(0, thirdStatus.RootElement.GetProperty("slicesCompressed").GetInt32());
        RequireRestoresExactly(thirdStatus.RootElement.GetProperty("manifestPath").GetString()!, image);
    }

    public static TheoryData<string, string> UnusableBaselines => new()
    {
        { "tampered index", "slice index's signature does not verify" },
        { "index gone", "has no slice index" },
        { "part gone", "is gone" },
        { "another key", "signature does not verify with the job's certificate" },
        { "other level", "compressed at level 6, this job slices at" },
        { "not a manifest", "does not name a manifest" },
    };

    [Theory]
    [MemberData(nameof(UnusableBaselines))]
    public async Task An_unusable_baseline_means_a_full_build_that_verifies_and_one_warning_line(string damage, string reason)
    {
        string image = TestImages.Create(_dir.File("disk.img"), ImageBytes, seed: 72);
        TestIdentity signer = damage == "another key" ? TestIdentity.Other(_dir.Path) : _user;
        BundleCtlRunner.Outcome first = await BundleCtlRunner.RunAsync(BundleArgs(image, _dir.Sub("night-1"), signer));
        Assert.True(first.ExitCode == 0, first.StdErr);
        string baseline = Path.Combine(_dir.Path, "night-1", "disk.img.manifest.xml");
        switch (damage)
        {
            case "tampered index":
                byte[] index = File.ReadAllBytes(baseline + ".index");
                int at = Array.IndexOf(index, (byte)'"', 200) + 1; // somewhere inside the JSON line
                index[at] ^= 0x01;
                File.WriteAllBytes(baseline + ".index", index);
                break;
            case "index gone":
                File.Delete(baseline + ".index");
                break;
            case "part gone":
                File.Delete(Path.Combine(_dir.Path, "night-1", "disk.img.part.1"));
                break;
            case "not a manifest":
                baseline = Path.Combine(_dir.Path, "night-1", "disk.img.part.0");
                break;
        }

        string[] extra = damage == "other level" ? ["--baseline", baseline, "--level", "9"] : ["--baseline", baseline];
        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync(BundleArgs(image, _dir.Sub("night-2"), extra: extra));

        Assert.True(run.ExitCode == 0, run.StdErr);
        string warning = Assert.Single(run.ErrorLines);
        Assert.StartsWith($"bundlectl: warning: baseline '{baseline}' not used (", warning);
        Assert.Contains(reason, warning);
        Assert.EndsWith("); building in full", warning);
        using JsonDocument status = JsonDocument.Parse(run.StdOut);
        Assert.Equal(0, status.RootElement.GetProperty("slicesReused").GetInt32());
        Assert.Equal(SliceCount, status.RootElement.GetProperty("slicesCompressed").GetInt32());
        Assert.Equal(warning["bundlectl: warning: ".Length..], Assert.Single(status.RootElement.GetProperty("warnings").EnumerateArray()).GetString());
        RequireRestoresExactly(status.RootElement.GetProperty("manifestPath").GetString()!, image);
    }

    [Fact]
    public async Task A_tampered_baseline_part_is_never_used_and_the_rest_of_the_image_is_compressed()
    {
        (string image, string night1) = await FirstNightAsync();
        string part = Path.Combine(Path.GetDirectoryName(night1)!, "disk.img.part.1");
        byte[] bytes = File.ReadAllBytes(part);
        bytes[4096] ^= 0x80; // one bit: the part no longer matches its SHA-1 in the signed manifest
        File.WriteAllBytes(part, bytes);

        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync(BundleArgs(image, _dir.Sub("night-2"), extra: ["--baseline", night1]));

        Assert.True(run.ExitCode == 0, run.StdErr);
        string warning = Assert.Single(run.ErrorLines);
        Assert.Contains("'disk.img.part.1' does not match its SHA-1 in the signed manifest", warning);
        using JsonDocument status = JsonDocument.Parse(run.StdOut);
        int reused = status.RootElement.GetProperty("slicesReused").GetInt32();
        Assert.InRange(reused, 1, SliceCount - 2); // slices wholly in part 0 were taken (verified); none from part 1 on
        Assert.Equal(SliceCount, reused + status.RootElement.GetProperty("slicesCompressed").GetInt32());
        RequireRestoresExactly(status.RootElement.GetProperty("manifestPath").GetString()!, image);
    }

    [Fact]
    public async Task A_baseline_of_a_grown_image_reuses_the_slices_that_still_match_and_restores_exactly()
    {
        (string image, string night1) = await FirstNightAsync();
        using (var file = new FileStream(image, FileMode.Append))
        {
            file.Write(new byte[3 << 20].Select((_, i) => (byte)(i * 7)).ToArray()); // the disk grew by 3 MiB
        }

        BundleCtlRunner.Outcome run = await BundleCtlRunner.RunAsync(BundleArgs(image, _dir.Sub("night-2"), extra: ["--baseline", night1]));

        Assert.True(run.ExitCode == 0, run.StdErr);
        Assert.Empty(run.StdErr);
        using JsonDocument status = JsonDocument.Parse(run.StdOut);
        // The header slice (size, mtime) and the last slice of the old stream (its end blocks) changed; the rest matched.
        Assert.Equal(SliceCount - 2, status.RootElement.GetProperty("slicesReused").GetInt32());
        RequireRestoresExactly(status.RootElement.GetProperty("manifestPath").GetString()!, image);
    }
}
