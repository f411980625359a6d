using System.Security.Cryptography;
using BundleCluster.Format.Errors;
using BundleCluster.Format.Keys;
using BundleCluster.Format.Manifest;
using BundleCluster.Format.Unbundling;

namespace BundleCluster.Fuzz;

/// <summary>
/// The readers a stranger's bundle reaches, as fuzz targets. Each takes arbitrary bytes; a <see cref="BundleException"/>
/// is the expected way to say no, anything else (another exception, a hang, a crash) is a finding. The same targets
/// replay the seed corpus and every kept crash input in the default test run.
/// </summary>
public static class FuzzTargets
{
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["manifest"] = Manifest,
        ["tar"] = Tar,
        ["layers"] = Layers,
    };

    /// <summary>
    /// Not a reader: proves the harness sees findings. It throws on inputs starting with 'C', one bit away from its
    /// seed "B"; the smoke run requires AFL to find it.
    /// </summary>
    public static void Canary(byte[] input)
    {
        Manifest(input); // some instrumented code to run: AFL refuses a target it sees no coverage in
        if (input.Length > 0 && input[0] == (byte)'C')
        {
            throw new InvalidOperationException("canary: the fuzzer found the planted bug");
        }
    }

    /// <summary>The manifest reader: schema, limits, signed-text positions.</summary>
    public static void Manifest(byte[] input)
    {
        try
        {
            BundleManifest manifest = ManifestReader.Parse(input);
            _ = manifest.SignedText.Length;
        }
        catch (BundleException)
        {
        }
    }

    /// <summary>The tar member reader: ustar, GNU, PAX, base-256 numbers, old-GNU sparse maps.</summary>
    public static void Tar(byte[] input)
    {
        try
        {
            using var stream = new MemoryStream(input, writable: false);
            TarMemberExtractor.ExtractAsync(stream, _ => new DiscardingExtractTarget(), 1L << 40, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (BundleException)
        {
        }
    }

    /// <summary>
    /// CBC, gzip and tar together, as unbundle runs them. The first byte chooses the form: even, the rest is taken as
    /// the gzip stream and encrypted with a fixed key (so the fuzzer explores gzip and tar); odd, the rest is the
    /// ciphertext itself (so it explores padding). The manifest describes exactly these bytes, so the part digest
    /// passes and every layer is reached.
    /// </summary>
    public static void Layers(byte[] input)
    {
        if (input.Length < 1)
        {
            return;
        }

        using BundleKey key = BundleKey.FromHex("000102030405060708090a0b0c0d0e0f", "f0e0d0c0b0a090807060504030201000");
        byte[] part = input[1..];
        if ((input[0] & 1) == 0)
        {
            using Aes aes = Aes.Create();
            aes.Key = key.Key.ToArray();
            part = aes.EncryptCbc(part, key.Iv.ToArray(), PaddingMode.PKCS7);
        }

        if (part.Length == 0 || part.Length % 16 != 0)
        {
            return; // refused before decoding by the part-size check
        }

        var image = new ImageDescription("image", "", "machine", null, [], new string('0', 40), Math.Min(1L << 30, part.Length * 1032L),
            part.Length, "", "00", "", "00", [new ManifestPart(0, "image.part.0", Convert.ToHexStringLower(SHA1.HashData(part)))]);
        var manifest = new BundleManifest(new BundlerInfo("", "", ""), new MachineConfiguration("x86_64", [], null, null, []), image, "");
        try
        {
            Unbundler.DecodeAsync(manifest, key, new MemoryPartSource(part), [part.Length], _ => new DiscardingExtractTarget(), CancellationToken.None)
                .GetAwaiter().GetResult();
        }
        catch (BundleException)
        {
        }
    }

    private sealed class MemoryPartSource(byte[] part) : IPartSource
    {
        public ValueTask<long?> GetLengthAsync(string fileName, CancellationToken ct) => ValueTask.FromResult<long?>(part.Length);

        public ValueTask<Stream> OpenAsync(string fileName, long expectedLength, CancellationToken ct) =>
            ValueTask.FromResult<Stream>(new MemoryStream(part, writable: false));

        public void Dispose()
        {
        }

        public string Describe() => "memory";
    }
}
