namespace BundleCluster.TestSupport;

/// <summary>Deterministic image files: mixed compressible and random bytes, optionally with holes.</summary>
public static class TestImages
{
    public static string Create(string path, long size, int seed = 1, bool withHoles = false)
    {
        var random = new Random(seed);
        using (var file = new FileStream(path, FileMode.Create, FileAccess.Write))
        {
            file.SetLength(size);
            byte[] block = new byte[64 * 1024];
            for (long offset = 0; offset < size; offset += block.Length)
            {
                int n = (int)Math.Min(block.Length, size - offset);
                long blockNo = offset / block.Length;
                if (withHoles && blockNo % 4 is 1 or 2)
                {
                    continue; // leave a hole
                }

                if (blockNo % 3 == 0)
                {
                    random.NextBytes(block.AsSpan(0, n)); // incompressible
                }
                else
                {
                    for (int i = 0; i < n; i++)
                    {
                        block[i] = (byte)"the quick brown fox jumps over the lazy dog\n"[(int)((offset + i) % 44)];
                    }
                }

                file.Position = offset;
                file.Write(block, 0, n);
            }
        }

        File.SetLastWriteTimeUtc(path, new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        return path;
    }

    public static bool SameContent(string a, string b)
    {
        using var fa = File.OpenRead(a);
        using var fb = File.OpenRead(b);
        if (fa.Length != fb.Length)
        {
            return false;
        }

        byte[] ba = new byte[1 << 20];
        byte[] bb = new byte[1 << 20];
        while (true)
        {
            int na = fa.ReadAtLeast(ba, ba.Length, throwOnEndOfStream: false);
            int nb = fb.ReadAtLeast(bb, bb.Length, throwOnEndOfStream: false);
            if (na != nb || !ba.AsSpan(0, na).SequenceEqual(bb.AsSpan(0, nb)))
            {
                return false;
            }

            if (na == 0)
            {
                return true;
            }
        }
    }

    /// <summary>
    /// A night's change to an image: rewrites <paramref name="fraction"/> of its <paramref name="blockSize"/>-byte blocks
    /// (distinct, chosen at random) with fresh random bytes and moves its mtime a day on, as a nightly build would see it.
    /// Returns the offsets of the blocks rewritten.
    /// </summary>
    public static IReadOnlyList<long> RewriteBlocks(string path, double fraction, int blockSize, int seed)
    {
        var random = new Random(seed);
        long length = new FileInfo(path).Length;
        long blocks = length / blockSize;
        int count = Math.Max(1, (int)Math.Round(blocks * fraction));
        var chosen = new SortedSet<long>();
        while (chosen.Count < count)
        {
            chosen.Add(random.NextInt64(blocks) * blockSize);
        }

        DateTime mtime = File.GetLastWriteTimeUtc(path);
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            byte[] fresh = new byte[blockSize];
            foreach (long offset in chosen)
            {
                random.NextBytes(fresh);
                file.Position = offset;
                file.Write(fresh);
            }
        }

        File.SetLastWriteTimeUtc(path, mtime.AddDays(1));
        return [.. chosen];
    }
}
