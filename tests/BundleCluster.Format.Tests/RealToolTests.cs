using System.Security.Cryptography;
using BundleCluster.Format.Manifest;
using BundleCluster.Format.Unbundling;
using BundleCluster.TestSupport;

namespace BundleCluster.Format.Tests;

/// <summary>Our bytes checked by the real tools, and the real tools' bundles read by us.</summary>
public sealed class RealToolTests
{
    [Fact]
    public async Task A_bundle_we_write_restores_with_openssl_gzip_and_gnu_tar()
    {
        using var dir = new TempDirectory();
        string image = TestImages.Create(dir.File("disk.img"), 23_000_000, seed: 2, withHoles: true);
        TestIdentity user = TestIdentity.User(dir.Path);
        TestIdentity cloud = TestIdentity.Cloud(dir.Path);
        string dest = dir.Sub("bundle");
        string manifestPath = await ReferenceBundler.BundleAsync(image, dest, user, cloud, level: 9);
        BundleManifest m = ManifestReader.Parse(File.ReadAllText(manifestPath));
        File.WriteAllBytes(dir.File("key.bin"), Convert.FromHexString(m.Image.UserEncryptedKey));
        File.WriteAllBytes(dir.File("iv.bin"), Convert.FromHexString(m.Image.UserEncryptedIv));
        File.WriteAllBytes(dir.File("cloudkey.bin"), Convert.FromHexString(m.Image.Ec2EncryptedKey));
        string parts = string.Join(' ', m.Image.Parts.Select(p => $"'bundle/{p.FileName}'"));

        ExternalTool.Bash($"""
            key=$(openssl pkeyutl -decrypt -inkey '{user.PrivateKeyPath}' -in key.bin)
            iv=$(openssl pkeyutl -decrypt -inkey '{user.PrivateKeyPath}' -in iv.bin)
            [ "$key" = "$(openssl pkeyutl -decrypt -inkey '{cloud.PrivateKeyPath}' -in cloudkey.bin)" ]
            cat {parts} | openssl enc -d -aes-128-cbc -K "$key" -iv "$iv" > stream.gz
            python3 -c "import zlib,sys; d=zlib.decompressobj(31); d.decompress(open('stream.gz','rb').read()); assert d.eof and d.unused_data == b'', 'not exactly one gzip member'"
            gzip -dc stream.gz > stream.tar
            [ "$(openssl sha1 -r stream.tar | cut -d' ' -f1)" = "{m.Image.DigestSha1Hex}" ]
            mkdir out && tar -xf stream.tar -C out
            cmp out/disk.img '{image}'
            """, dir.Path);
    }

    [Fact]
    public async Task A_bundle_made_by_the_classic_pipeline_restores_byte_identical()
    {
        using var dir = new TempDirectory();
        string image = TestImages.Create(dir.File("classic.img"), 30_000_000, seed: 3, withHoles: true);
        TestIdentity user = TestIdentity.User(dir.Path);
        TestIdentity cloud = TestIdentity.Cloud(dir.Path);
        string keyHex = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        string ivHex = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        string parts = dir.Sub("parts");

        // ec2-ami-tools' pipeline (bundle.rb): tar -c -h -S --owner 0 --group 0 | gzip -9 | openssl enc, split 10 MiB.
        ExternalTool.Bash($"""
            tar -c -h -S --owner 0 --group 0 -C '{dir.Path}' classic.img > image.tar
            [ "$(head -c 157 image.tar | tail -c 1)" = "S" ]   # GNU tar stored an old-GNU sparse member
            openssl sha1 -r image.tar | cut -d' ' -f1 > digest
            gzip -9 -c image.tar | openssl enc -e -aes-128-cbc -K {keyHex} -iv {ivHex} > image.enc
            split -b 10485760 -d -a 2 image.enc parts/classic.img.part.
            for w in key iv; do
              printf %s "$([ $w = key ] && echo {keyHex} || echo {ivHex})" > $w.txt
              openssl pkeyutl -encrypt -certin -inkey '{user.CertificatePath}' -in $w.txt -out user-$w.bin
              openssl pkeyutl -encrypt -certin -inkey '{cloud.CertificatePath}' -in $w.txt -out cloud-$w.bin
            done
            """, dir.Path);

        string[] partFiles = Directory.GetFiles(parts).Order(StringComparer.Ordinal).ToArray();
        string Hex(string file) => Convert.ToHexStringLower(File.ReadAllBytes(dir.File(file)));
        string machine = "<machine_configuration><architecture>x86_64</architecture></machine_configuration>";
        string imageXml = "<image><name>classic.img</name><user>123456789012</user><type>machine</type>" +
            $"<digest algorithm=\"SHA1\">{File.ReadAllText(dir.File("digest")).Trim()}</digest><size>30000000</size>" +
            $"<bundled_size>{new FileInfo(dir.File("image.enc")).Length}</bundled_size>" +
            $"<ec2_encrypted_key algorithm=\"AES-128-CBC\">{Hex("cloud-key.bin")}</ec2_encrypted_key>" +
            $"<user_encrypted_key algorithm=\"AES-128-CBC\">{Hex("user-key.bin")}</user_encrypted_key>" +
            $"<ec2_encrypted_iv>{Hex("cloud-iv.bin")}</ec2_encrypted_iv><user_encrypted_iv>{Hex("user-iv.bin")}</user_encrypted_iv>" +
            $"<parts count=\"{partFiles.Length}\">" +
            string.Concat(partFiles.Select((f, i) =>
                $"<part index=\"{i}\"><filename>{Path.GetFileName(f)}</filename><digest algorithm=\"SHA1\">{Convert.ToHexStringLower(SHA1.HashData(File.ReadAllBytes(f)))}</digest></part>")) +
            "</parts></image>";
        File.WriteAllText(dir.File("signed.txt"), machine + imageXml);
        ExternalTool.Bash($"openssl dgst -sha1 -sign '{user.PrivateKeyPath}' -out sig.bin signed.txt", dir.Path);
        string manifest = "<?xml version='1.0' encoding='ASCII'?>\n<manifest><version>2007-10-10</version>" +
            "<bundler><name>euca2ools</name><version>3.4.1</version><release>0</release></bundler>" + machine + imageXml +
            $"<signature>{Hex("sig.bin")}</signature></manifest>";
        File.WriteAllText(Path.Combine(parts, "classic.img.manifest.xml"), manifest);
        string restored = dir.Sub("restored");

        UnbundleResult result = await Unbundler.RunAsync(new UnbundleRequest(Path.Combine(parts, "classic.img.manifest.xml"),
            user.PrivateKeyPath, new DirectoryPartSource(parts), restored, user.CertificatePath));

        Assert.True(result.SignatureVerified);
        Assert.True(result.Sparse);
        Assert.True(TestImages.SameContent(image, Path.Combine(restored, "classic.img")));

        // And with the cloud's key instead of the user's (euca-unbundle's fallback).
        string restored2 = dir.Sub("restored2");
        UnbundleResult cloudResult = await Unbundler.RunAsync(new UnbundleRequest(Path.Combine(parts, "classic.img.manifest.xml"),
            cloud.PrivateKeyPath, new DirectoryPartSource(parts), restored2));
        Assert.Equal("cloud", cloudResult.KeyPair);
        Assert.True(TestImages.SameContent(image, Path.Combine(restored2, "classic.img")));
    }
}
