using System.Security.Cryptography;

namespace BundleCluster.TestSupport;

/// <summary>
/// The original tools' way of making and reading bundles, with the real programs: GNU tar, gzip, openssl, split.
/// Independent of our code, so it checks our bytes (and we check its).
/// </summary>
public static class ClassicPipeline
{
    /// <summary>
    /// Bundles like ec2-bundle-image (bundle.rb): <c>tar -c -h -S --owner 0 --group 0 | gzip -9 | openssl enc</c>,
    /// split into 10 MiB parts named euca2ools-style (.part.00), keys wrapped with <c>openssl pkeyutl</c>, and a
    /// euca2ools-style manifest (double quotes, declaration with encoding and a newline) signed with
    /// <c>openssl dgst -sha1 -sign</c>. Returns the manifest path; the parts sit beside it.
    /// </summary>
    public static string MakeBundle(string workDirectory, string imagePath, TestIdentity user, TestIdentity cloud)
    {
        string name = Path.GetFileName(imagePath);
        string parts = Path.Combine(workDirectory, "classic-parts");
        Directory.CreateDirectory(parts);
        string keyHex = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        string ivHex = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        ExternalTool.Bash($"""
            tar -c -h -S --owner 0 --group 0 -C '{Path.GetDirectoryName(imagePath)}' '{name}' > classic.tar
            openssl sha1 -r classic.tar | cut -d' ' -f1 > classic.digest
            gzip -9 -c classic.tar | openssl enc -e -aes-128-cbc -K {keyHex} -iv {ivHex} > classic.enc
            split -b 10485760 -d -a 2 classic.enc 'classic-parts/{name}.part.'
            for w in key iv; do
              printf %s "$([ $w = key ] && echo {keyHex} || echo {ivHex})" > classic-$w.txt
              openssl pkeyutl -encrypt -certin -inkey '{user.CertificatePath}' -in classic-$w.txt -out classic-user-$w.bin
              openssl pkeyutl -encrypt -certin -inkey '{cloud.CertificatePath}' -in classic-$w.txt -out classic-cloud-$w.bin
            done
            """, workDirectory);

        string Hex(string file) => Convert.ToHexStringLower(File.ReadAllBytes(Path.Combine(workDirectory, file)));
        string[] partFiles = Directory.GetFiles(parts).Order(StringComparer.Ordinal).ToArray();
        string machine = "<machine_configuration><architecture>x86_64</architecture></machine_configuration>";
        string image = $"<image><name>{name}</name><user>123456789012</user><type>machine</type>" +
            $"<digest algorithm=\"SHA1\">{File.ReadAllText(Path.Combine(workDirectory, "classic.digest")).Trim()}</digest>" +
            $"<size>{new FileInfo(imagePath).Length}</size><bundled_size>{new FileInfo(Path.Combine(workDirectory, "classic.enc")).Length}</bundled_size>" +
            $"<ec2_encrypted_key algorithm=\"AES-128-CBC\">{Hex("classic-cloud-key.bin")}</ec2_encrypted_key>" +
            $"<user_encrypted_key algorithm=\"AES-128-CBC\">{Hex("classic-user-key.bin")}</user_encrypted_key>" +
            $"<ec2_encrypted_iv>{Hex("classic-cloud-iv.bin")}</ec2_encrypted_iv><user_encrypted_iv>{Hex("classic-user-iv.bin")}</user_encrypted_iv>" +
            $"<parts count=\"{partFiles.Length}\">" +
            string.Concat(partFiles.Select((f, i) =>
                $"<part index=\"{i}\"><filename>{Path.GetFileName(f)}</filename><digest algorithm=\"SHA1\">{Convert.ToHexStringLower(SHA1.HashData(File.ReadAllBytes(f)))}</digest></part>")) +
            "</parts></image>";
        File.WriteAllText(Path.Combine(workDirectory, "classic-signed.txt"), machine + image);
        ExternalTool.Bash($"openssl dgst -sha1 -sign '{user.PrivateKeyPath}' -out classic-sig.bin classic-signed.txt", workDirectory);
        string manifestPath = Path.Combine(parts, $"{name}.manifest.xml");
        File.WriteAllText(manifestPath, "<?xml version='1.0' encoding='ASCII'?>\n<manifest><version>2007-10-10</version>" +
            "<bundler><name>euca2ools</name><version>3.4.1</version><release>0</release></bundler>" + machine + image +
            $"<signature>{Hex("classic-sig.bin")}</signature></manifest>");
        return manifestPath;
    }

    /// <summary>True when GNU tar stored the image as an old-GNU sparse member (type 'S') in the last classic bundle.</summary>
    public static bool LastTarWasSparse(string workDirectory)
    {
        using FileStream tar = File.OpenRead(Path.Combine(workDirectory, "classic.tar"));
        tar.Position = 156;
        return tar.ReadByte() == 'S';
    }

    /// <summary>
    /// Restores a bundle the way ec2-unbundle does, with no code of ours: unwrap key and IV with
    /// <c>openssl pkeyutl</c>, <c>cat parts | openssl enc -d | gzip -dc | tar -x</c>; also checks the gzip stream is
    /// exactly one member and that the tar stream's SHA-1 is the manifest's. Returns the extraction directory.
    /// </summary>
    public static string Restore(string workDirectory, string manifestPath, TestIdentity keyOwner)
    {
        string manifest = File.ReadAllText(manifestPath);
        string Element(string tag) => manifest.Split($"<{tag}")[1].Split('>', 2)[1].Split($"</{tag}>")[0];
        File.WriteAllBytes(Path.Combine(workDirectory, "restore-key.bin"), Convert.FromHexString(Element("user_encrypted_key")));
        File.WriteAllBytes(Path.Combine(workDirectory, "restore-iv.bin"), Convert.FromHexString(Element("user_encrypted_iv")));
        string digest = Element("digest");
        string bundleDirectory = Path.GetDirectoryName(manifestPath)!;
        string parts = string.Join(' ', manifest.Split("<filename>").Skip(1).Select(s => $"'{bundleDirectory}/{s.Split("</filename>")[0]}'"));
        ExternalTool.Bash($"""
            key=$(openssl pkeyutl -decrypt -inkey '{keyOwner.PrivateKeyPath}' -in restore-key.bin)
            iv=$(openssl pkeyutl -decrypt -inkey '{keyOwner.PrivateKeyPath}' -in restore-iv.bin)
            cat {parts} | openssl enc -d -aes-128-cbc -K "$key" -iv "$iv" > restore.gz
            python3 -c "import zlib; d=zlib.decompressobj(31); d.decompress(open('restore.gz','rb').read()); assert d.eof and d.unused_data == b'', 'not exactly one gzip member'"
            gzip -dc restore.gz > restore.tar
            [ "$(openssl sha1 -r restore.tar | cut -d' ' -f1)" = "{digest}" ]
            rm -rf restored-by-tar && mkdir restored-by-tar && tar -xf restore.tar -C restored-by-tar
            rm restore.gz restore.tar
            """, workDirectory);
        return Path.Combine(workDirectory, "restored-by-tar");
    }

    /// <summary>Checks the manifest's signature with <c>openssl dgst -sha1 -verify</c> over the literal substrings.</summary>
    public static void VerifySignature(string workDirectory, string manifestPath, TestIdentity signer)
    {
        string text = File.ReadAllText(manifestPath);
        string Between(string start, string end) => text[text.IndexOf(start, StringComparison.Ordinal)..(text.IndexOf(end, StringComparison.Ordinal) + end.Length)];
        File.WriteAllText(Path.Combine(workDirectory, "verify-signed.txt"),
            Between("<machine_configuration>", "</machine_configuration>") + Between("<image>", "</image>"));
        File.WriteAllBytes(Path.Combine(workDirectory, "verify-sig.bin"), Convert.FromHexString(Between("<signature>", "</signature>")[11..^12]));
        ExternalTool.Bash($"""
            openssl x509 -in '{signer.CertificatePath}' -pubkey -noout > verify-pub.pem
            openssl dgst -sha1 -verify verify-pub.pem -signature verify-sig.bin verify-signed.txt
            """, workDirectory);
    }
}
