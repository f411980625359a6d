using System.Globalization;
using System.Text;
using System.Xml;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Files;
using BundleCluster.Format.Keys;

namespace BundleCluster.Format.Manifest;

/// <summary>
/// Reads and validates a manifest as untrusted input. Accepts what ec2-ami-tools and euca2ools write (either quote
/// style, any declaration, whitespace between elements, euca2ools' machine_configuration order, empty user key
/// fields) and nothing else:
/// <list type="bullet">
/// <item>Limits first: at most <see cref="MaxBytes"/> bytes (checked before reading), nesting at most
/// <see cref="MaxDepth"/> deep (checked while reading, so no deep document costs more than a linear scan).</item>
/// <item>Only the elements and attributes of the 2007-10-10 format, each where the format puts it, singletons once.
/// Comments, CDATA sections, processing instructions, DTDs and non-whitespace text between elements are refused:
/// they are never in a manifest, and each could hide a second, textual copy of signed content.</item>
/// <item>The signed text (<see cref="BundleManifest.SignedText"/>) is cut at the positions where the parser found the
/// one real <c>&lt;machine_configuration&gt;</c> and the one real <c>&lt;image&gt;</c> — the elements every value
/// comes from — and those positions must hold exactly the bare start and end tags. So what a signature check
/// covers is what the unbundler uses (no signature wrapping).</item>
/// </list>
/// </summary>
public static class ManifestReader
{
    /// <summary>16 MiB: a manifest of 100,000 parts (1 TB of bundle) is about 13 MB.</summary>
    public const int MaxBytes = 16 << 20;

    /// <summary>The format nests five deep (manifest/image/parts/part/digest).</summary>
    public const int MaxDepth = 6;

    /// <summary>Reads a manifest file: a regular file of at most <see cref="MaxBytes"/>, in UTF-8.</summary>
    public static BundleManifest ReadFile(string path)
    {
        using RegularFile file = RegularFile.Open(path, "manifest", MaxBytes, BundleErrorKind.InvalidBundle);
        return Parse(file.ReadAllBytes());
    }

    public static BundleManifest Parse(byte[] bytes)
    {
        if (bytes.Length > MaxBytes)
        {
            throw Invalid($"it is {bytes.Length} bytes, more than the {MaxBytes} any bundle needs");
        }

        string text;
        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Invalid("it is not UTF-8 text");
        }

        return Parse(text);
    }

    public static BundleManifest Parse(string text)
    {
        if (text.Length > MaxBytes)
        {
            throw Invalid($"it is {text.Length} characters, more than the {MaxBytes} any bundle needs");
        }

        // Byte-order mark and surrounding whitespace are not part of any element; offsets are taken in what remains.
        text = text.TrimStart('\uFEFF').Trim();
        ManifestNode root = ReadTree(text);
        return Build(root, text);
    }

    private static BundleManifest Build(ManifestNode root, string text)
    {
        string version = root.RequiredText("version");
        if (version != BundleManifest.FormatVersion)
        {
            throw Invalid($"manifest version '{version}' is not supported; only {BundleManifest.FormatVersion} is");
        }

        ManifestNode? b = root.Child("bundler");
        BundlerInfo bundler = b is null
            ? new BundlerInfo("", "", "")
            : new BundlerInfo(b.OptionalText("name") ?? "", b.OptionalText("version") ?? "", b.OptionalText("release") ?? "");
        ManifestNode machineNode = root.Child("machine_configuration") ?? throw Invalid("<manifest> has no <machine_configuration> element");
        ManifestNode imageNode = root.Child("image") ?? throw Invalid("<manifest> has no <image> element");
        MachineConfiguration machine = ParseMachine(machineNode);
        ImageDescription image = ParseImage(imageNode);
        string signature = root.OptionalText("signature") ?? "";
        string signed = SignedRange(text, machineNode) + SignedRange(text, imageNode);
        return new BundleManifest(bundler, machine, image, signature) { SignedText = signed };
    }

    /// <summary>
    /// The literal text of an element, from its start tag to its end tag, which must be written bare
    /// (<c>&lt;image&gt;</c>, no attributes or spaces): that is how every bundler writes them and how every verifier
    /// finds them.
    /// </summary>
    private static string SignedRange(string text, ManifestNode node)
    {
        string start = $"<{node.Name}>";
        string end = $"</{node.Name}>";
        if (node.End < 0
            || string.CompareOrdinal(text, node.Start, start, 0, start.Length) != 0
            || string.CompareOrdinal(text, node.End, end, 0, end.Length) != 0)
        {
            throw Invalid($"the signed element <{node.Name}> must be written as a bare '{start}' … '{end}' pair");
        }

        return text[node.Start..(node.End + end.Length)];
    }

    private static MachineConfiguration ParseMachine(ManifestNode mc)
    {
        string arch = mc.OptionalText("architecture") is { Length: > 0 } a
            ? a
            : throw Invalid("<machine_configuration> has no <architecture>");
        var mappings = new List<BlockDeviceMapping>();
        foreach (ManifestNode map in mc.Child("block_device_mapping")?.Children ?? [])
        {
            mappings.Add(new BlockDeviceMapping(map.OptionalText("virtual") ?? "", map.OptionalText("device") ?? ""));
        }

        var codes = new List<string>();
        foreach (ManifestNode code in mc.Child("product_codes")?.Children ?? [])
        {
            codes.Add(code.Text);
        }

        return new MachineConfiguration(arch, mappings, NullIfEmpty(mc.OptionalText("kernel_id")),
            NullIfEmpty(mc.OptionalText("ramdisk_id")), codes);
    }

    private static ImageDescription ParseImage(ManifestNode image)
    {
        string name = image.RequiredText("name");
        if (!IsBareFileName(name))
        {
            throw Invalid($"image name '{name}' is not a bare file name");
        }

        string digest = Sha1Hex(image.RequiredText("digest"), "the image digest");
        long size = NonNegative(image.RequiredText("size"), "size");
        long bundledSize = image.OptionalText("bundled_size") is { } bs ? NonNegative(bs, "bundled_size") : -1;
        string ec2Key = HexOrEmpty(image, "ec2_encrypted_key");
        string userKey = HexOrEmpty(image, "user_encrypted_key");
        string ec2Iv = HexOrEmpty(image, "ec2_encrypted_iv");
        string userIv = HexOrEmpty(image, "user_encrypted_iv");
        if ((userKey.Length == 0 || userIv.Length == 0) && (ec2Key.Length == 0 || ec2Iv.Length == 0))
        {
            throw Invalid("the manifest has neither a user nor a cloud encrypted key and IV pair");
        }

        List<ManifestPart> parts = ParseParts(image.Child("parts") ?? throw Invalid("<image> has no <parts> element"));
        var ancestry = new List<string>();
        foreach (ManifestNode ancestor in image.Child("ancestry")?.Children ?? [])
        {
            ancestry.Add(ancestor.Text);
        }

        return new ImageDescription(name, image.OptionalText("user") ?? "", image.OptionalText("type") ?? "machine",
            NullIfEmpty(image.OptionalText("kernel_name")), ancestry, digest, size, bundledSize, ec2Key, userKey, ec2Iv, userIv, parts);
    }

    private static List<ManifestPart> ParseParts(ManifestNode parts)
    {
        string? countText = parts.Attribute("count");
        if (!int.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out int count) || count < 1)
        {
            throw Invalid($"<parts count='{countText}'> is not a positive number");
        }

        // The count is only believed once the elements are there: a count of 2^31-1 allocates nothing.
        if (count != parts.Children.Count)
        {
            throw Invalid($"<parts count='{count}'> but the manifest lists {parts.Children.Count} parts");
        }

        var byIndex = new ManifestPart?[count];
        var fileNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (ManifestNode part in parts.Children)
        {
            string? indexText = part.Attribute("index");
            if (!int.TryParse(indexText, NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index >= count)
            {
                throw Invalid($"<part index='{indexText}'> is not an index below the part count {count}");
            }

            if (byIndex[index] is not null)
            {
                throw Invalid($"part index {index} appears twice");
            }

            string fileName = part.OptionalText("filename") ?? throw Invalid($"part {index} has no <filename>");
            if (!IsBareFileName(fileName))
            {
                throw Invalid($"part {index} file name '{fileName}' is not a bare file name; a path in a manifest is refused");
            }

            if (!fileNames.Add(fileName))
            {
                // One file listed under many indices would be read (and paid for) many times.
                throw Invalid($"part file '{fileName}' is listed more than once");
            }

            string digest = Sha1Hex(part.OptionalText("digest") ?? "", $"part {index}'s digest");
            byIndex[index] = new ManifestPart(index, fileName, digest);
        }

        var ordered = new List<ManifestPart>(count);
        for (int i = 0; i < count; i++)
        {
            ordered.Add(byIndex[i] ?? throw Invalid($"the manifest declares {count} parts but part {i} is missing from it"));
        }

        return ordered;
    }

    /// <summary>One streaming pass: limits, node kinds, the schema, and the position of every element.</summary>
    private static ManifestNode ReadTree(string text)
    {
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            IgnoreComments = false,
            IgnoreProcessingInstructions = false,
            IgnoreWhitespace = false,
            MaxCharactersInDocument = MaxBytes,
            CloseInput = true,
        };
        var lines = new LineOffsets(text);
        var stack = new Stack<ManifestNode>();
        ManifestNode? root = null;
        try
        {
            using var reader = XmlReader.Create(new StringReader(text), settings);
            var position = (IXmlLineInfo)reader;
            while (reader.Read())
            {
                switch (reader.NodeType)
                {
                    case XmlNodeType.XmlDeclaration:
                        break;
                    case XmlNodeType.Element:
                    {
                        ManifestNode? parent = stack.Count > 0 ? stack.Peek() : null;
                        if (stack.Count >= MaxDepth)
                        {
                            throw Invalid($"elements are nested more than {MaxDepth} deep; the format nests five");
                        }

                        // The reader's position is the element name's first character; the tag starts one before it.
                        var node = new ManifestNode(reader.Name, parent, lines.Offset(position.LineNumber, position.LinePosition) - 1);
                        ManifestSchema.Admit(node);
                        ReadAttributes(reader, node);
                        if (parent is null)
                        {
                            root = node;
                        }
                        else
                        {
                            parent.Children.Add(node);
                        }

                        if (reader.IsEmptyElement)
                        {
                            node.Close(-1);
                        }
                        else
                        {
                            stack.Push(node);
                        }

                        break;
                    }

                    case XmlNodeType.EndElement:
                    {
                        ManifestNode node = stack.Pop();
                        node.Close(lines.Offset(position.LineNumber, position.LinePosition) - 2);
                        break;
                    }

                    case XmlNodeType.Text:
                    case XmlNodeType.Whitespace:
                    case XmlNodeType.SignificantWhitespace:
                        if (stack.Count == 0 ? !string.IsNullOrWhiteSpace(reader.Value) : !stack.Peek().AppendText(reader.Value))
                        {
                            throw Invalid($"text '{Shorten(reader.Value)}' appears between elements, where the format has none");
                        }

                        break;
                    case XmlNodeType.Comment:
                        throw Invalid("it contains a comment (<!-- … -->), which no bundler writes and which could hide content");
                    case XmlNodeType.CDATA:
                        throw Invalid("it contains a CDATA section, which no bundler writes and which could hide content");
                    case XmlNodeType.ProcessingInstruction:
                        throw Invalid($"it contains a processing instruction (<?{reader.Name} …?>), which no bundler writes");
                    default:
                        throw Invalid($"it contains a {reader.NodeType} node, which is not part of a manifest");
                }
            }
        }
        catch (XmlException ex) when (ex.Message.Contains("DTD", StringComparison.OrdinalIgnoreCase))
        {
            throw Invalid("it contains a DTD (<!DOCTYPE>), which is never part of a bundle manifest and is refused");
        }
        catch (XmlException ex)
        {
            throw Invalid($"it is not well-formed XML: {ex.Message}");
        }

        return root ?? throw Invalid("it has no root element");
    }

    private static void ReadAttributes(XmlReader reader, ManifestNode node)
    {
        if (!reader.MoveToFirstAttribute())
        {
            return;
        }

        do
        {
            ManifestSchema.AdmitAttribute(node, reader.Name);
            ManifestSchema.CheckAttributeValue(node, reader.Name, reader.Value);
            node.Attributes[reader.Name] = reader.Value;
        }
        while (reader.MoveToNextAttribute());
        reader.MoveToElement();
    }

    private static string Shorten(string value)
    {
        string trimmed = value.Trim();
        return trimmed.Length <= 40 ? trimmed : trimmed[..40] + "…";
    }

    public static bool IsBareFileName(string name) =>
        name.Length > 0 && name != "." && name != ".." && name.IndexOfAny(['/', '\\', '\0']) < 0;

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static string HexOrEmpty(ManifestNode image, string name)
    {
        string value = image.OptionalText(name) ?? "";
        if (value.Length > 0 && (value.Length % 2 != 0 || !BundleKey.IsHex(value)))
        {
            throw Invalid($"<{name}> is not hexadecimal");
        }

        return value.ToLowerInvariant();
    }

    private static string Sha1Hex(string value, string what) =>
        value.Length == 40 && BundleKey.IsHex(value)
            ? value.ToLowerInvariant()
            : throw Invalid($"{what} '{Shorten(value)}' is not a 40-character hex SHA-1");

    private static long NonNegative(string value, string what) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n)
            ? n
            : throw Invalid($"<{what}> '{Shorten(value)}' is not a non-negative 64-bit number");

    internal static BundleException Invalid(string message) => BundleException.InvalidBundle("invalid manifest: " + message);

    /// <summary>Turns the parser's (line, column) positions into offsets in the text.</summary>
    private sealed class LineOffsets
    {
        private readonly List<int> _starts = [0];

        public LineOffsets(string text)
        {
            // XML counts \r\n, \r and \n each as one line break.
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.Length || text[i + 1] != '\n')))
                {
                    _starts.Add(i + 1);
                }
            }
        }

        public int Offset(int line, int column) => line >= 1 && line <= _starts.Count ? _starts[line - 1] + column - 1 : -1;
    }
}
