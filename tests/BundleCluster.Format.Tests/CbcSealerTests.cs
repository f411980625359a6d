using System.Security.Cryptography;
using BundleCluster.Format.Encryption;
using CsCheck;

namespace BundleCluster.Format.Tests;

public sealed class CbcSealerTests
{
    [Fact]
    public void Encrypting_in_arbitrary_pieces_equals_one_shot_cbc_with_pkcs7()
    {
        Gen.Select(Gen.Byte.Array[0, 5000], Gen.Int[1, 100].Array[1, 40]).Sample((plain, cuts) =>
        {
            byte[] key = RandomNumberGenerator.GetBytes(16);
            byte[] iv = RandomNumberGenerator.GetBytes(16);
            using var aes = Aes.Create();
            aes.Key = key;
            byte[] expected = aes.EncryptCbc(plain, iv, PaddingMode.PKCS7);

            using var sealer = new CbcSealer(key, iv);
            var actual = new List<byte>();
            int offset = 0;
            foreach (int cut in cuts)
            {
                int n = Math.Min(cut, plain.Length - offset);
                byte[] output = new byte[CbcSealer.MaxOutputLength(n)];
                int written = sealer.Encrypt(plain.AsSpan(offset, n), output);
                actual.AddRange(output.AsSpan(0, written).ToArray());
                offset += n;
            }

            byte[] rest = new byte[CbcSealer.MaxOutputLength(plain.Length - offset)];
            int restWritten = sealer.Encrypt(plain.AsSpan(offset), rest);
            actual.AddRange(rest.AsSpan(0, restWritten).ToArray());
            byte[] last = new byte[16];
            actual.AddRange(last.AsSpan(0, sealer.Finish(last)).ToArray());
            return expected.AsSpan().SequenceEqual(actual.ToArray());
        }, iter: 200);
    }
}
