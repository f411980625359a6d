namespace BundleCluster.Format.Manifest;

/// <summary>
/// The elements and attributes of a 2007-10-10 manifest (BUNDLE-FORMAT.md §2), where each may appear and how often.
/// Anything else is refused where it is met, so a manifest holds exactly one element of each singleton name.
/// </summary>
internal static class ManifestSchema
{
    private sealed record Container(string[] Children, bool Ordered, string? Repeated = null);

    private static readonly Dictionary<string, Container> Containers = new(StringComparer.Ordinal)
    {
        ["manifest"] = new(["version", "bundler", "machine_configuration", "image", "signature"], Ordered: true),
        ["bundler"] = new(["name", "version", "release"], Ordered: false),
        // Both tools' orders are accepted: ec2-ami-tools puts product_codes last, euca2ools before kernel_id.
        ["machine_configuration"] = new(["architecture", "block_device_mapping", "kernel_id", "ramdisk_id", "product_codes"], Ordered: false),
        ["block_device_mapping"] = new([], Ordered: false, Repeated: "mapping"),
        ["mapping"] = new(["virtual", "device"], Ordered: false),
        ["product_codes"] = new([], Ordered: false, Repeated: "product_code"),
        ["image"] = new(
        [
            "name", "user", "type", "kernel_name", "ancestry", "digest", "size", "bundled_size", "ec2_encrypted_key",
            "user_encrypted_key", "ec2_encrypted_iv", "user_encrypted_iv", "parts",
        ], Ordered: true),
        ["ancestry"] = new([], Ordered: false, Repeated: "ancestor_ami_id"),
        ["parts"] = new([], Ordered: false, Repeated: "part"),
        ["part"] = new(["filename", "digest"], Ordered: false),
    };

    /// <summary>(element, attribute) → the value it must have, or null for any value.</summary>
    private static readonly Dictionary<(string, string), string?> AllowedAttributes = new()
    {
        [("parts", "count")] = null,
        [("part", "index")] = null,
        [("digest", "algorithm")] = "SHA1",
        [("ec2_encrypted_key", "algorithm")] = "AES-128-CBC",
        [("user_encrypted_key", "algorithm")] = "AES-128-CBC",
    };

    /// <summary>True for elements that hold elements (no container name is also a leaf name anywhere in the format).</summary>
    public static bool IsContainer(string name) => Containers.ContainsKey(name);

    /// <summary>Throws unless the element may appear under its parent, in this place, this often.</summary>
    public static void Admit(ManifestNode node)
    {
        ManifestNode? parent = node.Parent;
        if (parent is null)
        {
            if (node.Name != "manifest")
            {
                throw ManifestReader.Invalid($"the root element is <{node.Name}>, not <manifest>");
            }

            return;
        }

        if (!Containers.TryGetValue(parent.Name, out Container? container))
        {
            throw ManifestReader.Invalid($"<{parent.Name}> holds a value, not an element such as <{node.Name}>");
        }

        if (container.Repeated is { } repeated)
        {
            if (node.Name != repeated)
            {
                throw ManifestReader.Invalid($"unexpected element <{node.Name}> in <{parent.Name}>; only <{repeated}> belongs there");
            }

            return;
        }

        int position = Array.IndexOf(container.Children, node.Name);
        if (position < 0)
        {
            throw ManifestReader.Invalid($"unexpected element <{node.Name}> in <{parent.Name}>");
        }

        if (parent.Child(node.Name) is not null)
        {
            throw ManifestReader.Invalid($"<{parent.Name}> has more than one <{node.Name}>");
        }

        if (container.Ordered)
        {
            if (position < parent.LastChildPosition)
            {
                throw ManifestReader.Invalid(
                    $"<{node.Name}> is out of order in <{parent.Name}>: expected the order {string.Join(", ", container.Children)}");
            }

            parent.LastChildPosition = position;
        }
    }

    public static void AdmitAttribute(ManifestNode node, string attribute)
    {
        if (!AllowedAttributes.ContainsKey((node.Name, attribute)))
        {
            throw ManifestReader.Invalid($"unexpected attribute '{attribute}' on <{node.Name}>");
        }
    }

    /// <summary>Checks an attribute's value where the format fixes it (the digest and cipher algorithms).</summary>
    public static void CheckAttributeValue(ManifestNode node, string attribute, string value)
    {
        if (AllowedAttributes[(node.Name, attribute)] is { } required && !string.Equals(value, required, StringComparison.OrdinalIgnoreCase))
        {
            throw ManifestReader.Invalid($"<{node.Name} {attribute}='{value}'> is not supported; the format uses {required}");
        }
    }
}
