using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Keys;

namespace BundleCluster.Format.Manifest;

/// <summary>
/// Reads and validates a manifest as untrusted input. Accepts what ec2-ami-tools and euca2ools write (either quote
/// style, any declaration, surrounding whitespace, euca2ools' machine_configuration order, empty user key fields) and
/// rejects DTDs, unknown or misordered elements, missing mandatory elements, bad hex, and part names with a path.
/// </summary>
public static class ManifestReader
{
    private static readonly string[] ManifestOrder = ["version", "bundler", "machine_configuration", "image", "signature"];

    private static readonly string[] ImageOrder =
    [
        "name", "user", "type", "kernel_name", "ancestry", "digest", "size", "bundled_size", "ec2_encrypted_key",
        "user_encrypted_key", "ec2_encrypted_iv", "user_encrypted_iv", "parts",
    ];

    // Both tools' orders are accepted here: ec2-ami-tools puts product_codes last, euca2ools before kernel_id.
    private static readonly HashSet<string> MachineChildren =
        ["architecture", "block_device_mapping", "kernel_id", "ramdisk_id", "product_codes"];

    public static BundleManifest Parse(string text)
    {
        XDocument doc = Load(text);
        XElement root = doc.Root!;
        if (root.Name.LocalName != "manifest")
        {
            throw Invalid($"the root element is <{root.Name.LocalName}>, not <manifest>");
        }

        Dictionary<string, XElement> top = OrderedChildren(root, ManifestOrder, "manifest");
        string version = Text(Required(top, "version", "manifest"));
        if (version != BundleManifest.FormatVersion)
        {
            throw Invalid($"manifest version '{version}' is not supported; only {BundleManifest.FormatVersion} is");
        }

        BundlerInfo bundler = top.TryGetValue("bundler", out XElement? b)
            ? new BundlerInfo(ChildText(b, "name") ?? "", ChildText(b, "version") ?? "", ChildText(b, "release") ?? "")
            : new BundlerInfo("", "", "");
        MachineConfiguration machine = ParseMachine(Required(top, "machine_configuration", "manifest"));
        ImageDescription image = ParseImage(Required(top, "image", "manifest"));
        string signature = top.TryGetValue("signature", out XElement? s) ? Text(s) : "";
        return new BundleManifest(bundler, machine, image, signature);
    }

    private static XDocument Load(string text)
    {
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
            MaxCharactersInDocument = 64L * 1024 * 1024,
        };
        try
        {
            using var reader = XmlReader.Create(new StringReader(text.Trim()), settings);
            return XDocument.Load(reader, LoadOptions.None);
        }
        catch (XmlException ex) when (ex.Message.Contains("DTD", StringComparison.OrdinalIgnoreCase))
        {
            throw Invalid("the manifest contains a DTD (<!DOCTYPE>), which is never part of a bundle manifest and is refused");
        }
        catch (XmlException ex)
        {
            throw Invalid($"the manifest is not well-formed XML: {ex.Message}");
        }
    }

    private static MachineConfiguration ParseMachine(XElement mc)
    {
        var seen = new HashSet<string>();
        foreach (XElement child in mc.Elements())
        {
            string name = child.Name.LocalName;
            if (!MachineChildren.Contains(name))
            {
                throw Invalid($"unexpected element <{name}> in <machine_configuration>");
            }

            if (!seen.Add(name))
            {
                throw Invalid($"<machine_configuration> has more than one <{name}>");
            }
        }

        string arch = ChildText(mc, "architecture") is { Length: > 0 } a
            ? a
            : throw Invalid("<machine_configuration> has no <architecture>");
        var mappings = new List<BlockDeviceMapping>();
        foreach (XElement map in mc.Element("block_device_mapping")?.Elements("mapping") ?? [])
        {
            mappings.Add(new BlockDeviceMapping(ChildText(map, "virtual") ?? "", ChildText(map, "device") ?? ""));
        }

        var codes = (mc.Element("product_codes")?.Elements("product_code") ?? []).Select(Text).ToList();
        return new MachineConfiguration(arch, mappings, NullIfEmpty(ChildText(mc, "kernel_id")),
            NullIfEmpty(ChildText(mc, "ramdisk_id")), codes);
    }

    private static ImageDescription ParseImage(XElement image)
    {
        Dictionary<string, XElement> e = OrderedChildren(image, ImageOrder, "image");
        string name = Text(Required(e, "name", "image"));
        if (!IsBareFileName(name))
        {
            throw Invalid($"image name '{name}' is not a bare file name");
        }

        string digest = Sha1Hex(Text(Required(e, "digest", "image")), "the image digest");
        long size = NonNegative(Text(Required(e, "size", "image")), "size");
        long bundledSize = e.TryGetValue("bundled_size", out XElement? bs) ? NonNegative(Text(bs), "bundled_size") : -1;
        string ec2Key = HexOrEmpty(e, "ec2_encrypted_key");
        string userKey = HexOrEmpty(e, "user_encrypted_key");
        string ec2Iv = HexOrEmpty(e, "ec2_encrypted_iv");
        string userIv = HexOrEmpty(e, "user_encrypted_iv");
        if ((userKey.Length == 0 || userIv.Length == 0) && (ec2Key.Length == 0 || ec2Iv.Length == 0))
        {
            throw Invalid("the manifest has neither a user nor a cloud encrypted key and IV pair");
        }

        List<ManifestPart> parts = ParseParts(Required(e, "parts", "image"));
        var ancestry = (e.GetValueOrDefault("ancestry")?.Elements("ancestor_ami_id") ?? []).Select(Text).ToList();
        return new ImageDescription(name, ChildText(image, "user") ?? "", ChildText(image, "type") ?? "machine",
            NullIfEmpty(ChildText(image, "kernel_name")), ancestry, digest, size, bundledSize, ec2Key, userKey, ec2Iv, userIv, parts);
    }

    private static List<ManifestPart> ParseParts(XElement parts)
    {
        string? countText = parts.Attribute("count")?.Value;
        if (!int.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out int count) || count < 1)
        {
            throw Invalid($"<parts count='{countText}'> is not a positive number");
        }

        var byIndex = new ManifestPart?[count];
        foreach (XElement part in parts.Elements())
        {
            if (part.Name.LocalName != "part")
            {
                throw Invalid($"unexpected element <{part.Name.LocalName}> in <parts>");
            }

            string? indexText = part.Attribute("index")?.Value;
            if (!int.TryParse(indexText, NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index >= count)
            {
                throw Invalid($"<part index='{indexText}'> is not an index below the part count {count}");
            }

            if (byIndex[index] is not null)
            {
                throw Invalid($"part index {index} appears twice");
            }

            string fileName = ChildText(part, "filename") ?? throw Invalid($"part {index} has no <filename>");
            if (!IsBareFileName(fileName))
            {
                throw Invalid($"part {index} file name '{fileName}' is not a bare file name; a path in a manifest is refused");
            }

            string digest = Sha1Hex(ChildText(part, "digest") ?? "", $"part {index}'s digest");
            byIndex[index] = new ManifestPart(index, fileName, digest);
        }

        for (int i = 0; i < count; i++)
        {
            if (byIndex[i] is null)
            {
                throw Invalid($"the manifest declares {count} parts but part {i} is missing from it");
            }
        }

        return byIndex.Select(p => p!).ToList();
    }

    /// <summary>Indexes an element's children by name, requiring each known at most once and in the given order.</summary>
    private static Dictionary<string, XElement> OrderedChildren(XElement parent, string[] order, string where)
    {
        var found = new Dictionary<string, XElement>();
        int last = -1;
        foreach (XElement child in parent.Elements())
        {
            string name = child.Name.LocalName;
            int position = Array.IndexOf(order, name);
            if (position < 0)
            {
                throw Invalid($"unexpected element <{name}> in <{where}>");
            }

            if (position <= last)
            {
                throw Invalid(found.ContainsKey(name)
                    ? $"<{where}> has more than one <{name}>"
                    : $"<{name}> is out of order in <{where}>: expected the order {string.Join(", ", order)}");
            }

            last = position;
            found[name] = child;
        }

        return found;
    }

    public static bool IsBareFileName(string name) =>
        name.Length > 0 && name != "." && name != ".." && name.IndexOfAny(['/', '\\', '\0']) < 0;

    private static XElement Required(Dictionary<string, XElement> children, string name, string where) =>
        children.TryGetValue(name, out XElement? e) ? e : throw Invalid($"<{where}> has no <{name}> element");

    private static string Text(XElement e) => e.Value.Trim();

    private static string? ChildText(XElement parent, string name) => parent.Element(name) is { } e ? Text(e) : null;

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static string HexOrEmpty(Dictionary<string, XElement> e, string name)
    {
        string value = e.TryGetValue(name, out XElement? x) ? Text(x) : "";
        if (value.Length > 0 && (value.Length % 2 != 0 || !BundleKey.IsHex(value)))
        {
            throw Invalid($"<{name}> is not hexadecimal");
        }

        return value.ToLowerInvariant();
    }

    private static string Sha1Hex(string value, string what) =>
        value.Length == 40 && BundleKey.IsHex(value)
            ? value.ToLowerInvariant()
            : throw Invalid($"{what} '{value}' is not a 40-character hex SHA-1");

    private static long NonNegative(string value, string what) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n)
            ? n
            : throw Invalid($"<{what}> '{value}' is not a non-negative number");

    private static BundleException Invalid(string message) => BundleException.InvalidBundle("invalid manifest: " + message);
}
