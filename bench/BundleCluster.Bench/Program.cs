using System.Diagnostics;
using System.Security.Cryptography;
using BundleCluster.Format.Bundling;
using BundleCluster.Format.Compression;
using BundleCluster.Format.Encryption;
using BundleCluster.Format.Parts;
using BundleCluster.Format.Tar;
using BundleCluster.Storage.Sources;

// bundle-bench stages IMAGE LEVEL [SLICE_MIB]
// Measures each stage of the bundle pipeline alone, on one core, over the real image, and prints key=value lines:
// the seconds each stage needs for the whole image. bench/run.sh turns them into the machine's ceiling.
// bundle-bench engine IMAGE LEVEL [SLICE_MIB] [OUT_DIR]
// Runs the Format library's in-process pipeline on every core; with OUT_DIR it stages the parts there through the
// same directory sink bundlectl uses (then removes them), so it does the work bundlectl does, minus Orleans.
if (args.Length < 3 || args[0] is not ("stages" or "engine"))
{
    Console.Error.WriteLine("usage: bundle-bench stages|engine IMAGE LEVEL [SLICE_MIB] [OUT_DIR]");
    return 1;
}

string path = args[1];
int level = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
int sliceSize = (args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 4) << 20;
await using FileImageReader image = FileImageReader.Open(path);
var layout = new TarStreamLayout(Path.GetFileName(path), image.Length, image.MtimeUnixSeconds);
var plan = SlicePlan.For(layout.Length, sliceSize);

if (args[0] == "engine")
{
    // The Format library's in-process pipeline on every core: the engine without Orleans.
    using BundleCluster.Storage.Sinks.IBundleSink? sink = args.Length > 4
        ? BundleCluster.Storage.Sinks.BundleSinks.Open(args[4], $"bench-{Environment.ProcessId}", jobDiesWithProcess: true)
        : null;
    var engineClock = Stopwatch.StartNew();
    using var key = BundleCluster.Format.Keys.BundleKey.Generate();
    SealedBundle sealedBundle = await Bundler.SealAsync(layout, image, key, level, sliceSize,
        (part, ct) => sink?.WritePartAsync(part.Index, part.Data, ct) ?? Task.CompletedTask);
    engineClock.Stop();
    if (sink is not null)
    {
        await sink.AbortAsync(CancellationToken.None);
    }

    Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"engine_s={engineClock.Elapsed.TotalSeconds:0.000} bundled_bytes={sealedBundle.Seal.BundledSize}"));
    return 0;
}

// Tar-stream SHA-1 (and the CRC-32 taken in the same pass): sequential by definition.
var clock = Stopwatch.StartNew();
await TarStreamDigest.ComputeAsync(layout, image, null, CancellationToken.None);
double sha1Seconds = clock.Elapsed.TotalSeconds;

// Our deflate at this level (zero shortcut included: it is part of the stage), one slice after another.
clock.Restart();
long compressed = 0;
for (int i = 0; i < plan.Count; i++)
{
    using CompressedSlice slice = await Bundler.CompressAsync(layout, image, plan[i], level, CancellationToken.None);
    compressed += slice.Result.CompressedLength;
}

double deflateSeconds = clock.Elapsed.TotalSeconds;

// AES-128-CBC and part SHA-1 over as many bytes as the compressed stream has (their speed does not depend on content).
byte[] buffer = RandomNumberGenerator.GetBytes(BundleCluster.Format.BundleFileNames.PartSize);
byte[] output = new byte[CbcSealer.MaxOutputLength(buffer.Length)];
using (var cbc = new CbcSealer(new byte[16], new byte[16]))
{
    clock.Restart();
    for (long done = 0; done < compressed; done += buffer.Length)
    {
        cbc.Encrypt(buffer.AsSpan(0, (int)Math.Min(buffer.Length, compressed - done)), output);
    }
}

double aesSeconds = clock.Elapsed.TotalSeconds;
clock.Restart();
for (long done = 0; done < compressed; done += buffer.Length)
{
    SHA1.HashData(buffer.AsSpan(0, (int)Math.Min(buffer.Length, compressed - done)));
}

double partSha1Seconds = clock.Elapsed.TotalSeconds;

// The CRC-32 the digest pass adds (it must equal the gzip trailer's: bytes digested = bytes compressed), alone over as
// many bytes as the tar stream has, to show its share of tar_sha1_s.
var crc32 = new System.IO.Hashing.Crc32();
clock.Restart();
for (long done = 0; done < layout.Length; done += buffer.Length)
{
    crc32.Append(buffer.AsSpan(0, (int)Math.Min(buffer.Length, layout.Length - done)));
}

double tarCrc32Seconds = clock.Elapsed.TotalSeconds;
var invariant = System.Globalization.CultureInfo.InvariantCulture;
Console.WriteLine($"image_bytes={image.Length}");
Console.WriteLine($"tar_bytes={layout.Length}");
Console.WriteLine($"compressed_bytes={compressed}");
Console.WriteLine(string.Create(invariant, $"tar_sha1_s={sha1Seconds:0.000}"));
Console.WriteLine(string.Create(invariant, $"deflate_s={deflateSeconds:0.000}"));
Console.WriteLine(string.Create(invariant, $"aes_s={aesSeconds:0.000}"));
Console.WriteLine(string.Create(invariant, $"part_sha1_s={partSha1Seconds:0.000}"));
Console.WriteLine(string.Create(invariant, $"tar_crc32_s={tarCrc32Seconds:0.000} (included in tar_sha1_s)"));
return 0;
