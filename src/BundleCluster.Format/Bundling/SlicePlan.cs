namespace BundleCluster.Format.Bundling;

/// <summary>One compression work item: a byte range of the tar stream.</summary>
public readonly record struct SliceRange(int Index, long Offset, int Length);

/// <summary>Cuts the tar stream into equal slices (the last one shorter); slice i always covers the same bytes.</summary>
public sealed record SlicePlan(long TarLength, int SliceSize)
{
    public int Count => checked((int)((TarLength + SliceSize - 1) / SliceSize));

    public SliceRange this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            long offset = (long)index * SliceSize;
            return new SliceRange(index, offset, (int)Math.Min(SliceSize, TarLength - offset));
        }
    }

    public static SlicePlan For(long tarLength, int sliceSize)
    {
        if (sliceSize < 64 * 1024 || sliceSize > 64 << 20)
        {
            throw Errors.BundleException.InvalidParameter($"slice size {sliceSize} is outside 64 KiB-64 MiB");
        }

        return new SlicePlan(tarLength, sliceSize);
    }
}
