using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace BundleCluster.Format.Manifest;

/// <summary>
/// Writes a manifest byte-for-byte as ec2-ami-tools' REXML does (manifestv20071010.rb, xmlbuilder.rb): declaration
/// <c>&lt;?xml version='1.0'?&gt;</c>, one line, no whitespace between elements, single-quoted attributes, absent values
/// left out, no trailing newline. The signature is computed over the bytes as written, so this layout is the contract.
/// </summary>
public static class ManifestWriter
{
    public const string Declaration = "<?xml version='1.0'?>";

    /// <summary>Writes the manifest and signs it with the user's private key; returns the final file text.</summary>
    public static string WriteSigned(BundleManifest manifest, RSA userPrivateKey)
    {
        string body = WriteBody(manifest);
        string signature = ManifestSignature.Sign(body, userPrivateKey);
        return body + Element("signature", signature) + "</manifest>";
    }

    /// <summary>Writes the manifest with the signature it already carries (used to re-serialize a parsed manifest).</summary>
    public static string Write(BundleManifest manifest) =>
        WriteBody(manifest) + Element("signature", manifest.Signature) + "</manifest>";

    private static string WriteBody(BundleManifest m)
    {
        var x = new StringBuilder(4096);
        x.Append(Declaration).Append("<manifest>");
        x.Append(Element("version", BundleManifest.FormatVersion));
        x.Append("<bundler>").Append(Element("name", m.Bundler.Name)).Append(Element("version", m.Bundler.Version))
            .Append(Element("release", m.Bundler.Release)).Append("</bundler>");

        MachineConfiguration mc = m.Machine;
        x.Append("<machine_configuration>").Append(Element("architecture", mc.Architecture));
        if (mc.BlockDeviceMappings.Count > 0)
        {
            // ec2-ami-tools sorts the mappings by virtual name (bdm.keys.sort), an ordinal sort.
            x.Append("<block_device_mapping>");
            foreach (BlockDeviceMapping map in mc.BlockDeviceMappings.OrderBy(b => b.Virtual, StringComparer.Ordinal))
            {
                x.Append("<mapping>").Append(Element("virtual", map.Virtual)).Append(Element("device", map.Device)).Append("</mapping>");
            }

            x.Append("</block_device_mapping>");
        }

        x.Append(OptionalElement("kernel_id", mc.KernelId)).Append(OptionalElement("ramdisk_id", mc.RamdiskId));
        if (mc.ProductCodes.Count > 0)
        {
            x.Append("<product_codes>");
            foreach (string code in mc.ProductCodes)
            {
                x.Append(Element("product_code", code));
            }

            x.Append("</product_codes>");
        }

        x.Append("</machine_configuration>");

        ImageDescription im = m.Image;
        x.Append("<image>").Append(Element("name", im.Name)).Append(Element("user", im.User)).Append(Element("type", im.Type));
        x.Append(OptionalElement("kernel_name", im.KernelName));
        if (im.Ancestry.Count > 0)
        {
            x.Append("<ancestry>");
            foreach (string ami in im.Ancestry)
            {
                x.Append(Element("ancestor_ami_id", ami));
            }

            x.Append("</ancestry>");
        }

        x.Append("<digest algorithm='SHA1'>").Append(im.DigestSha1Hex).Append("</digest>");
        x.Append(Element("size", im.Size.ToString(CultureInfo.InvariantCulture)));
        x.Append(Element("bundled_size", im.BundledSize.ToString(CultureInfo.InvariantCulture)));
        x.Append("<ec2_encrypted_key algorithm='AES-128-CBC'>").Append(im.Ec2EncryptedKey).Append("</ec2_encrypted_key>");
        x.Append("<user_encrypted_key algorithm='AES-128-CBC'>").Append(im.UserEncryptedKey).Append("</user_encrypted_key>");
        x.Append(Element("ec2_encrypted_iv", im.Ec2EncryptedIv)).Append(Element("user_encrypted_iv", im.UserEncryptedIv));
        x.Append("<parts count='").Append(im.Parts.Count.ToString(CultureInfo.InvariantCulture)).Append("'>");
        foreach (ManifestPart part in im.Parts)
        {
            x.Append("<part index='").Append(part.Index.ToString(CultureInfo.InvariantCulture)).Append("'>")
                .Append(Element("filename", part.FileName))
                .Append("<digest algorithm='SHA1'>").Append(part.Sha1Hex).Append("</digest></part>");
        }

        x.Append("</parts></image>");
        return x.ToString();
    }

    private static string OptionalElement(string name, string? value) =>
        string.IsNullOrEmpty(value) ? string.Empty : Element(name, value);

    // REXML escapes &, < and > in text and leaves quotes alone; escaping more would change the signed bytes.
    private static string Element(string name, string value) =>
        $"<{name}>{Escape(value)}</{name}>";

    private static string Escape(string text) =>
        text.AsSpan().ContainsAny('&', '<', '>')
            ? text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal)
            : text;
}
