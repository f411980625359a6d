using System.Security.Cryptography;
using BundleCluster.Format.Bundling;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Manifest;
using BundleCluster.TestSupport;

namespace BundleCluster.Format.Tests;

public sealed class ManifestTests
{
    private static BundleManifest Sample() => new(
        new BundlerInfo("ec2-ami-tools", "1.5", "7"),
        new MachineConfiguration("x86_64",
            [new BlockDeviceMapping("root", "/dev/sda1"), new BlockDeviceMapping("ami", "sda1")], "aki-1", "ari-2", ["PC1"]),
        new ImageDescription("myimage", "123456789012", "machine", null, [], new string('a', 40), 100, 32,
            "e1", "a1", "e2", "a2", [new ManifestPart(0, "myimage.part.0", new string('b', 40))]),
        "");

    [Fact]
    public void The_manifest_is_written_as_rexml_writes_it()
    {
        string text = ManifestWriter.Write(Sample() with { Signature = "5151" });

        Assert.Equal(
            "<?xml version='1.0'?><manifest><version>2007-10-10</version><bundler><name>ec2-ami-tools</name><version>1.5</version><release>7</release></bundler>" +
            "<machine_configuration><architecture>x86_64</architecture><block_device_mapping><mapping><virtual>ami</virtual><device>sda1</device></mapping>" +
            "<mapping><virtual>root</virtual><device>/dev/sda1</device></mapping></block_device_mapping><kernel_id>aki-1</kernel_id><ramdisk_id>ari-2</ramdisk_id>" +
            "<product_codes><product_code>PC1</product_code></product_codes></machine_configuration>" +
            "<image><name>myimage</name><user>123456789012</user><type>machine</type><digest algorithm='SHA1'>" + new string('a', 40) + "</digest>" +
            "<size>100</size><bundled_size>32</bundled_size><ec2_encrypted_key algorithm='AES-128-CBC'>e1</ec2_encrypted_key>" +
            "<user_encrypted_key algorithm='AES-128-CBC'>a1</user_encrypted_key><ec2_encrypted_iv>e2</ec2_encrypted_iv><user_encrypted_iv>a2</user_encrypted_iv>" +
            "<parts count='1'><part index='0'><filename>myimage.part.0</filename><digest algorithm='SHA1'>" + new string('b', 40) + "</digest></part></parts></image>" +
            "<signature>5151</signature></manifest>",
            text);
    }

    [Fact]
    public void Absent_optional_values_are_left_out_not_written_empty()
    {
        BundleManifest m = Sample() with { Machine = new MachineConfiguration("i386", [], null, null, []) };

        string text = ManifestWriter.Write(m);

        Assert.Contains("<machine_configuration><architecture>i386</architecture></machine_configuration>", text);
    }

    [Fact]
    public void A_written_manifest_reads_back_equal()
    {
        string text = ManifestWriter.Write(Sample() with { Signature = "ab" });

        BundleManifest read = ManifestReader.Parse(text);

        Assert.Equal("myimage", read.Image.Name);
        Assert.Equal(["ami", "root"], read.Machine.BlockDeviceMappings.Select(b => b.Virtual));
        Assert.Equal("aki-1", read.Machine.KernelId);
        Assert.Equal(["PC1"], read.Machine.ProductCodes);
        Assert.Equal(Sample().Image.Parts, read.Image.Parts);
        Assert.Equal(ManifestWriter.Write(read with { Bundler = Sample().Bundler }), text);
    }

    [Fact]
    public void A_euca2ools_style_manifest_is_read()
    {
        string text = "<?xml version='1.0' encoding='ASCII'?>\n<manifest><version>2007-10-10</version><bundler><name>euca2ools</name><version>3.4.1</version><release>0</release></bundler>" +
                      "<machine_configuration><architecture>x86_64</architecture><product_codes><product_code>A</product_code></product_codes><kernel_id>eki-1</kernel_id></machine_configuration>" +
                      "<image><name>img</name><user>123456789012</user><type>machine</type><digest algorithm=\"SHA1\">" + new string('C', 40) + "</digest><size>5</size><bundled_size>32</bundled_size>" +
                      "<ec2_encrypted_key algorithm=\"AES-128-CBC\">AB</ec2_encrypted_key><user_encrypted_key algorithm=\"AES-128-CBC\"/><ec2_encrypted_iv>CD</ec2_encrypted_iv><user_encrypted_iv/>" +
                      "<parts count=\"2\"><part index=\"1\"><filename>img.part.01</filename><digest algorithm=\"SHA1\">" + new string('1', 40) + "</digest></part>" +
                      "<part index=\"0\"><filename>img.part.00</filename><digest algorithm=\"SHA1\">" + new string('0', 40) + "</digest></part></parts></image><signature>UNSIGNED</signature></manifest>";

        BundleManifest m = ManifestReader.Parse(text);

        Assert.Equal(["img.part.00", "img.part.01"], m.Image.Parts.Select(p => p.FileName));
        Assert.Equal(new string('c', 40), m.Image.DigestSha1Hex);
        Assert.Equal("", m.Image.UserEncryptedKey);
        Assert.Equal("ab", m.Image.Ec2EncryptedKey);
    }

    [Theory]
    [InlineData("<!DOCTYPE manifest [<!ENTITY x 'y'>]>", "DTD")]
    [InlineData("", null)]
    public void A_manifest_with_a_dtd_is_refused(string doctype, string? expected)
    {
        string text = doctype + ManifestWriter.Write(Sample() with { Signature = "ab" }).Replace("<?xml version='1.0'?>", "");

        if (expected is null)
        {
            Assert.NotNull(ManifestReader.Parse(text));
            return;
        }

        BundleException ex = Assert.Throws<BundleException>(() => ManifestReader.Parse(text));
        Assert.Contains(expected, ex.Message);
    }

    [Theory]
    [InlineData("<size>100</size><bundled_size>32</bundled_size>", "<bundled_size>32</bundled_size><size>100</size>", "out of order")]
    [InlineData("<name>myimage</name>", "", "no <name>")]
    [InlineData("<digest algorithm='SHA1'>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</digest><size>", "<digest algorithm='SHA1'>zz</digest><size>", "not a 40-character hex")]
    [InlineData("<ec2_encrypted_key algorithm='AES-128-CBC'>e1</ec2_encrypted_key>", "<ec2_encrypted_key algorithm='AES-128-CBC'>xyz</ec2_encrypted_key>", "not hexadecimal")]
    [InlineData("<filename>myimage.part.0</filename>", "<filename>../etc/passwd</filename>", "not a bare file name")]
    [InlineData("<filename>myimage.part.0</filename>", "<filename>/tmp/x.part.0</filename>", "not a bare file name")]
    [InlineData("<parts count='1'>", "<parts count='2'>", "<parts count='2'> but the manifest lists 1 parts")]
    [InlineData("<version>2007-10-10</version>", "<version>2007-08-29</version>", "not supported")]
    [InlineData("<type>machine</type>", "<type>machine</type><evil>1</evil>", "unexpected element <evil>")]
    public void Malformed_manifests_are_refused_with_the_reason(string find, string replace, string expected)
    {
        string text = ManifestWriter.Write(Sample() with { Signature = "ab" }).Replace(find, replace);

        BundleException ex = Assert.Throws<BundleException>(() => ManifestReader.Parse(text));

        Assert.Contains(expected, ex.Message);
        Assert.Equal(BundleErrorKind.InvalidBundle, ex.Kind);
    }

    [Fact]
    public void The_signature_covers_machine_configuration_and_image_and_openssl_verifies_it()
    {
        using var dir = new TempDirectory();
        TestIdentity user = TestIdentity.User(dir.Path);
        using RSA key = Keys.KeyFiles.LoadPrivateKey(user.PrivateKeyPath);
        string text = ManifestWriter.WriteSigned(Sample(), key);
        BundleManifest read = ManifestReader.Parse(text);
        File.WriteAllText(dir.File("m.xml"), text);

        ClassicPipeline.VerifySignature(dir.Path, dir.File("m.xml"), user);

        using var cert = Keys.KeyFiles.LoadCertificate(user.CertificatePath, "certificate");
        Assert.True(ManifestSignature.Verify(read, cert));
        Assert.False(ManifestSignature.Verify(ManifestReader.Parse(text.Replace("<size>100</size>", "<size>101</size>")), cert));
    }

    [Theory]
    [InlineData("1234-5678-9012", "123456789012")]
    [InlineData("123456789012", "123456789012")]
    public void Account_numbers_lose_their_hyphens(string given, string expected) =>
        Assert.Equal(expected, ManifestMetadata.NormalizeAccount(given));

    [Theory]
    [InlineData("12345678901")]
    [InlineData("1234567890123")]
    [InlineData("AKIAIOSFODNN7EXAMPLE")]
    [InlineData("")]
    public void An_account_that_is_not_12_digits_is_refused(string given)
    {
        BundleException ex = Assert.Throws<BundleException>(() => ManifestMetadata.NormalizeAccount(given));
        Assert.Equal(BundleErrorKind.InvalidParameter, ex.Kind);
        Assert.Contains("12-digit", ex.Message);
    }
}
