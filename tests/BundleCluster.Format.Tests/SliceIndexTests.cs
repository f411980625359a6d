using System.Security.Cryptography;
using System.Text;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Incremental;
using BundleCluster.Format.Keys;
using BundleCluster.TestSupport;

namespace BundleCluster.Format.Tests;

/// <summary>
/// The slice index is read from places other people can write: only an index signed by the job's identity, and
/// consistent in every number, is ever used.
/// </summary>
public sealed class SliceIndexTests : IDisposable
{
    private readonly TempDirectory _dir = new("slice-index");
    private readonly RSA _user;
    private readonly RSA _other;

    public SliceIndexTests()
    {
        _user = KeyFiles.LoadPrivateKey(TestIdentity.User(_dir.Path).PrivateKeyPath);
        _other = KeyFiles.LoadPrivateKey(TestIdentity.Other(_dir.Path).PrivateKeyPath);
    }

    public void Dispose()
    {
        _user.Dispose();
        _other.Dispose();
        _dir.Dispose();
    }

    /// <summary>Three slices of a 2.5 MiB tar stream at 1 MiB, as a sealer would report them.</summary>
    private static SliceIndex ThreeSlices(int middleLength = 700_000) => SliceIndex.Build(1 << 20, 6, (5L << 20) / 2, new string('a', 40), [new string('b', 40)],
    [
        (SHA256.HashData("one"u8), 400_000, 11u, 1 << 20),
        (SHA256.HashData("two"u8), middleLength, 22u, 1 << 20),
        (SHA256.HashData("three"u8), 100_000, 33u, 1 << 19),
    ]);

    [Fact]
    public void An_index_written_and_read_back_with_the_same_identity_is_the_same_index()
    {
        SliceIndex index = ThreeSlices();

        SliceIndex read = SliceIndexFile.Read(SliceIndexFile.Write(index, _user), _user);

        Assert.Equal([10L, 400_010L, 1_100_010L], read.Slices.Select(s => s.GzipOffset));
        Assert.Equal(1_200_020L, read.GzipLength); // header, slices, final block and trailer
        Assert.Equal(index.Slices.Select(s => Convert.ToHexString(s.Sha256)), read.Slices.Select(s => Convert.ToHexString(s.Sha256)));
        Assert.Equal([11u, 22u, 33u], read.Slices.Select(s => s.Crc32));
        Assert.Equal((index.SliceSize, index.CompressionLevel, index.TarLength, index.TarDigestSha1Hex), (read.SliceSize, read.CompressionLevel, read.TarLength, read.TarDigestSha1Hex));
    }

    [Fact]
    public void An_index_signed_by_another_identity_is_refused_as_a_key_mismatch()
    {
        byte[] file = SliceIndexFile.Write(ThreeSlices(), _other);

        var refused = Assert.Throws<BundleException>(() => SliceIndexFile.Read(file, _user));

        Assert.Equal(BundleErrorKind.KeyMismatch, refused.Kind);
    }

    [Fact]
    public void One_changed_digit_breaks_the_signature()
    {
        byte[] file = SliceIndexFile.Write(ThreeSlices(), _user);
        int at = Encoding.ASCII.GetString(file).IndexOf("400000", StringComparison.Ordinal);
        file[at] = (byte)'5'; // a longer first slice: every offset after it would point elsewhere

        var refused = Assert.Throws<BundleException>(() => SliceIndexFile.Read(file, _user));

        Assert.Contains("signature does not verify", refused.Message);
    }

    [Fact]
    public void A_signed_index_whose_numbers_disagree_is_refused_before_any_offset_is_used()
    {
        SliceIndex good = ThreeSlices();
        SliceIndex gap = good with { Slices = [good.Slices[0], good.Slices[1] with { GzipOffset = good.Slices[1].GzipOffset + 16 }, good.Slices[2]] };
        SliceIndex missing = good with { Slices = good.Slices.Take(2).ToList() };
        SliceIndex oversized = ThreeSlices(middleLength: 5 << 20); // more than deflate could ever make of 1 MiB

        foreach (SliceIndex bad in new[] { gap, missing, oversized })
        {
            var refused = Assert.Throws<BundleException>(() => SliceIndexFile.Read(SliceIndexFile.Write(bad, _user), _user));
            Assert.Equal(BundleErrorKind.InvalidBundle, refused.Kind);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"format\":\"bundlecluster-slice-index/1\"}")]
    [InlineData("{}\nrsa-sha256 !!!\n")]
    [InlineData("{}\nsomething else\n")]
    public void Garbage_is_refused_with_one_clear_error(string text)
    {
        var refused = Assert.Throws<BundleException>(() => SliceIndexFile.Read(Encoding.ASCII.GetBytes(text), _user));

        Assert.Equal(BundleErrorKind.InvalidBundle, refused.Kind);
        Assert.Contains("slice index", refused.Message);
    }

    [Fact]
    public void An_index_larger_than_any_real_one_is_refused_unread()
    {
        var refused = Assert.Throws<BundleException>(() => SliceIndexFile.Read(new byte[SliceIndexFile.MaxBytes + 1], _user));

        Assert.Contains("more than", refused.Message);
    }
}
