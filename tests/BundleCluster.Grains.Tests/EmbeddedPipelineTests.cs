using BundleCluster.Abstractions.Jobs;
using BundleCluster.Client;
using BundleCluster.Format.Unbundling;
using BundleCluster.TestSupport;

namespace BundleCluster.Grains.Tests;

public sealed class EmbeddedPipelineTests(TwoSiloClusterFixture fixture) : IClassFixture<TwoSiloClusterFixture>, IDisposable
{
    private readonly TempDirectory _dir = new("grains");
    private readonly BundleClusterClient _client = new(fixture.Cluster.Client);

    private BundleJobSpec Spec(string image, string destination, int sliceSize = 256 * 1024)
    {
        TestIdentity user = TestIdentity.User(_dir.Path);
        TestIdentity cloud = TestIdentity.Cloud(_dir.Path);
        return new BundleJobSpec
        {
            ImagePath = image,
            Destination = destination,
            User = "1234-5678-9012",
            UserCertificatePath = user.CertificatePath,
            PrivateKeyPath = user.PrivateKeyPath,
            CloudCertificatePath = cloud.CertificatePath,
            SliceSize = sliceSize,
            BlockDeviceMappings = "ami=sda1,root=/dev/sda1",
        };
    }

    [Fact]
    public async Task A_job_runs_its_chunk_work_on_both_silos_and_the_bundle_verifies()
    {
        string image = TestImages.Create(_dir.File("disk.img"), 24_000_000, seed: 21, withHoles: true);
        string dest = _dir.Sub("bundle");

        string jobId = await _client.SubmitAsync(Spec(image, dest));
        BundleJobStatus done = await _client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(BundleJobState.Completed, done.State);
        Assert.Equal(2, done.Silos.Count);
        Assert.All(done.Silos.Values, bytes => Assert.True(bytes > 0));
        Assert.Equal(done.TarBytes, done.Silos.Values.Sum());
        string restored = _dir.Sub("restored");
        UserFiles files = UserFiles.In(_dir.Path);
        UnbundleResult result = await Unbundler.RunAsync(new UnbundleRequest(done.ManifestPath!, files.PrivateKey,
            DirectoryPartSource.ForDirectory(dest), restored, files.Certificate));
        Assert.True(result.SignatureVerified);
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "disk.img")));
        // Exactly the manifest and its parts: no staging directory, no temporary file.
        var manifest = BundleCluster.Format.Manifest.ManifestReader.Parse(File.ReadAllText(done.ManifestPath!));
        Assert.Equal(done.PartsWritten, manifest.Image.Parts.Count);
        Assert.Equal(
            manifest.Image.Parts.Select(p => p.FileName).Append("disk.img.manifest.xml").Append("disk.img.manifest.xml.index").Order(StringComparer.Ordinal),
            Directory.GetFileSystemEntries(dest).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task An_idempotency_key_shaped_like_a_path_never_names_a_path()
    {
        // The job id is the client's idempotency key; staging named after it would be written, and on failure
        // recursively deleted, wherever "../" leads.
        string image = TestImages.Create(_dir.File("path.img"), 1_000_000, seed: 3);
        string parent = _dir.Sub("parent");
        string dest = Directory.CreateDirectory(Path.Combine(parent, "bundle")).FullName;

        string jobId = await _client.SubmitAsync(Spec(image, dest), idempotencyKey: "/../../escaped-" + Guid.NewGuid().ToString("N"));
        BundleJobStatus done = await _client.WaitAsync(jobId).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal(BundleJobState.Completed, done.State);
        Assert.Equal(["bundle"], Directory.GetFileSystemEntries(parent).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path, "escaped-*"));
        Assert.Equal(["path.img.manifest.xml", "path.img.manifest.xml.index", "path.img.part.0"], Directory.GetFileSystemEntries(dest).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_symlink_planted_under_a_predictable_staging_name_is_refused()
    {
        string image = TestImages.Create(_dir.File("planted.img"), 1_000_000, seed: 4);
        string dest = _dir.Sub("planted-dest");
        string elsewhere = _dir.Sub("elsewhere");
        string key = "planted-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateSymbolicLink(Path.Combine(dest, ".bundlecluster-" + key), elsewhere);

        BundleJobValidationException refused = await Assert.ThrowsAsync<BundleJobValidationException>(
            () => _client.SubmitAsync(Spec(image, dest), idempotencyKey: key));

        Assert.Equal("destination", refused.Field);
        Assert.Contains("is a symbolic link", refused.Message);
        Assert.Empty(Directory.GetFileSystemEntries(elsewhere));
        Assert.Equal([".bundlecluster-" + key], Directory.GetFileSystemEntries(dest).Select(Path.GetFileName)); // the prefix lock was released and removed
    }

    [Fact]
    public async Task Submitting_twice_with_one_idempotency_key_runs_one_job()
    {
        string image = TestImages.Create(_dir.File("once.img"), 3_000_000, seed: 2);
        string dest = _dir.Sub("bundle");
        BundleJobSpec spec = Spec(image, dest);

        string first = await _client.SubmitAsync(spec, "nightly-2026-11-26");
        string second = await _client.SubmitAsync(spec, "nightly-2026-11-26");
        BundleJobStatus done = await _client.WaitAsync(first).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(first, second);
        Assert.Equal(BundleJobState.Completed, done.State);
    }

    [Theory]
    [InlineData("user", "12345", "12-digit")]
    [InlineData("image", "/nonexistent/disk.img", "does not exist")]
    [InlineData("s3", "public-reed", "S3 ACL 'public-reed' is not one of")] // a client that skipped bundlectl's own check
    public async Task An_invalid_spec_is_refused_naming_the_field(string field, string value, string expected)
    {
        string image = TestImages.Create(_dir.File("bad.img"), 1000, seed: 3);
        BundleJobSpec spec = Spec(image, _dir.Sub("bundle"));
        spec = field switch
        {
            "user" => spec with { User = value },
            "s3" => spec with { S3 = new S3Options(null, null, value, false) },
            _ => spec with { ImagePath = value },
        };

        BundleJobValidationException ex = await Assert.ThrowsAsync<BundleJobValidationException>(() => _client.SubmitAsync(spec));

        Assert.Equal(field, ex.Field);
        Assert.Contains(expected, ex.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path + "/bundle"));
    }

    [Fact]
    public async Task A_cancelled_job_leaves_nothing_at_the_destination()
    {
        string image = TestImages.Create(_dir.File("cancel.img"), 60_000_000, seed: 4);
        string dest = _dir.Sub("bundle");
        string jobId = await _client.SubmitAsync(Spec(image, dest, sliceSize: 64 * 1024) with { CompressionLevel = 9 });

        BundleJobStatus cancelled = await _client.CancelAsync(jobId, "test");

        Assert.Equal(BundleJobState.Cancelled, cancelled.State);
        await Assert.ThrowsAsync<BundleJobFailedException>(() => _client.WaitAsync(jobId));
        Assert.Empty(Directory.GetFileSystemEntries(dest));
    }

    [Fact]
    public async Task Asking_for_an_unknown_job_is_a_typed_error() =>
        await Assert.ThrowsAsync<UnknownBundleJobException>(() => _client.GetStatusAsync("no-such-job"));

    public void Dispose() => _dir.Dispose();

    private sealed record UserFiles(string Certificate, string PrivateKey)
    {
        public static UserFiles In(string dir) => new(Path.Combine(dir, "user-cert.pem"), Path.Combine(dir, "user-pk.pem"));
    }
}
