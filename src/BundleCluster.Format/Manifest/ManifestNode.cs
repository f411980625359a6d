using System.Text;

namespace BundleCluster.Format.Manifest;

/// <summary>One element of a manifest as read: its name, attributes, text or children, and where its tags are.</summary>
internal sealed class ManifestNode(string name, ManifestNode? parent, int start)
{
    private StringBuilder? _text;

    public string Name { get; } = name;

    public ManifestNode? Parent { get; } = parent;

    /// <summary>Offset of the start tag's <c>&lt;</c>.</summary>
    public int Start { get; } = start;

    /// <summary>Offset of the end tag's <c>&lt;</c>; -1 for an empty element (<c>&lt;x/&gt;</c>).</summary>
    public int End { get; private set; } = -1;

    public List<ManifestNode> Children { get; } = [];

    public Dictionary<string, string> Attributes { get; } = new(StringComparer.Ordinal);

    /// <summary>Where the last child sat in the parent's fixed order (for order checks).</summary>
    public int LastChildPosition { get; set; } = -1;

    public string Text => _text?.ToString().Trim() ?? "";

    public void Close(int end) => End = end;

    /// <summary>Adds character data; false when this element holds elements and the data is not whitespace.</summary>
    public bool AppendText(string value)
    {
        if (ManifestSchema.IsContainer(Name))
        {
            return string.IsNullOrWhiteSpace(value);
        }

        (_text ??= new StringBuilder()).Append(value);
        return true;
    }

    public string? Attribute(string attribute) => Attributes.GetValueOrDefault(attribute);

    /// <summary>The child of that name (the schema admits each singleton at most once).</summary>
    public ManifestNode? Child(string child)
    {
        foreach (ManifestNode node in Children)
        {
            if (node.Name == child)
            {
                return node;
            }
        }

        return null;
    }

    public string? OptionalText(string child) => Child(child)?.Text;

    public string RequiredText(string child) =>
        Child(child)?.Text ?? throw ManifestReader.Invalid($"<{Name}> has no <{child}> element");
}
