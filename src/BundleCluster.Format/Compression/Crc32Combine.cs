namespace BundleCluster.Format.Compression;

/// <summary>
/// CRC-32 (the gzip polynomial) of a concatenation from the CRCs of its pieces, so slices compressed anywhere can be
/// joined into one gzip member. This is zlib's crc32_combine64 (multmodp/x2nmodp over GF(2)).
/// </summary>
public static class Crc32Combine
{
    private const uint Polynomial = 0xEDB88320u;
    private static readonly uint[] PowersOfX = BuildPowers();

    /// <summary>CRC-32 of A followed by B, given crc(A), crc(B) and the length of B.</summary>
    public static uint Combine(uint crcA, uint crcB, long lengthB)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lengthB);
        return MultiplyModP(XPow8N(lengthB), crcA) ^ crcB;
    }

    private static uint MultiplyModP(uint a, uint b)
    {
        uint m = 1u << 31;
        uint p = 0;
        while (true)
        {
            if ((a & m) != 0)
            {
                p ^= b;
                if ((a & (m - 1)) == 0)
                {
                    break;
                }
            }

            m >>= 1;
            b = (b & 1) != 0 ? (b >> 1) ^ Polynomial : b >> 1;
        }

        return p;
    }

    /// <summary>x^(8n) mod p: shifting a CRC over n zero bytes.</summary>
    private static uint XPow8N(long n)
    {
        uint p = 1u << 31; // x^0
        int k = 3;
        while (n != 0)
        {
            if ((n & 1) != 0)
            {
                p = MultiplyModP(PowersOfX[k & 31], p);
            }

            n >>= 1;
            k++;
        }

        return p;
    }

    private static uint[] BuildPowers()
    {
        var table = new uint[32];
        uint p = 1u << 30; // x^1
        table[0] = p;
        for (int n = 1; n < 32; n++)
        {
            table[n] = p = MultiplyModP(p, p);
        }

        return table;
    }
}
