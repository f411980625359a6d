using BundleCluster.Format.Errors;
using BundleCluster.Storage;
using BundleCluster.TestSupport;

namespace BundleCluster.Grains.Tests;

/// <summary>Where jobs may read and write: an operator's roots and S3 prefixes, and a tenant's on top.</summary>
public sealed class ConfinementTests : IDisposable
{
    private readonly TempDirectory _dir = new("confine");

    [Theory]
    [InlineData("s3://bundles/team/web.img", true)]
    [InlineData("s3://bundles/team/", true)]
    [InlineData("s3://bundles/team", true)]
    [InlineData("s3://bundles/teammate/web.img", false)] // a prefix is a folder, not a string prefix
    [InlineData("s3://bundles/web.img", false)]
    [InlineData("s3://other-bucket/team/web.img", false)]
    public void An_S3_prefix_covers_its_folder_and_nothing_beside_it(string location, bool allowed)
    {
        var confinement = new Confinement([], ["s3://bundles/team"]);

        if (allowed)
        {
            confinement.Require(location, "image");
        }
        else
        {
            BundleException refused = Assert.Throws<BundleException>(() => confinement.Require(location, "image"));
            Assert.Contains("outside the S3 prefixes", refused.Message);
        }
    }

    [Fact]
    public void Paths_need_a_root_and_links_are_resolved_before_the_check()
    {
        string root = _dir.Sub("root");
        string outside = TestImages.Create(_dir.File("outside.img"), 1000);
        string link = Path.Combine(root, "link.img");
        File.CreateSymbolicLink(link, outside);
        var onlyS3 = new Confinement([], ["s3://bundles"]);
        var rooted = Confinement.Of([root, "s3://bundles/x"]);

        Assert.Contains("may only use S3", Assert.Throws<BundleException>(() => onlyS3.Require(Path.Combine(root, "a.img"), "image")).Message);
        rooted.Require(root, "destination"); // the root itself
        rooted.Require(Path.Combine(root, "new-dir"), "destination");
        Assert.Contains("outside the directories", Assert.Throws<BundleException>(() => rooted.Require(link, "image")).Message);
        Assert.Equal([root], rooted.Roots);
        Assert.Equal(["s3://bundles/x"], rooted.S3Prefixes);
        Confinement.None.Require("/etc/shadow", "image"); // unconfined (an embedded silo): anything its user can read
    }

    public void Dispose() => _dir.Dispose();
}
