namespace BundleCluster.Format.Parts;

/// <summary>Part sizes and file names as ec2-ami-tools writes them.</summary>
public static class PartNaming
{
    /// <summary>Every part but the last is exactly 10 MiB (ec2-ami-tools bundle.rb CHUNK_SIZE).</summary>
    public const int PartSize = 10 * 1024 * 1024;

    /// <summary>
    /// <c>&lt;prefix&gt;.part.&lt;i&gt;</c>, i zero-padded to the number of decimal digits in the part count
    /// (ec2-ami-tools fileutil.rb FileUtil.split: 1-9 parts → .part.0, 10-99 → .part.00, …).
    /// </summary>
    public static string FileName(string prefix, int index, int partCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Math.Max(partCount, 1));
        int digits = partCount.ToString(System.Globalization.CultureInfo.InvariantCulture).Length;
        return $"{prefix}.part.{index.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(digits, '0')}";
    }

    /// <summary>Number of parts for a ciphertext length: ceil(length / 10 MiB), never an empty trailing part.</summary>
    public static int PartCount(long bundledSize) => checked((int)((bundledSize + PartSize - 1) / PartSize));
}
