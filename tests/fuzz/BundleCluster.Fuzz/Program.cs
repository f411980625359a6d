using BundleCluster.Fuzz;
using SharpFuzz;

// bundle-fuzz TARGET            run under afl-fuzz (input on stdin, forkserver via SharpFuzz)
// bundle-fuzz TARGET FILE...    replay inputs once (no AFL): exit 1 on the first input that is a finding
Action<byte[]>? target = args.Length > 0 && args[0] == "canary" ? FuzzTargets.Canary : null;
if (args.Length == 0 || (target is null && !FuzzTargets.All.TryGetValue(args[0], out target)))
{
    Console.Error.WriteLine($"usage: bundle-fuzz ({string.Join("|", FuzzTargets.All.Keys)}) [FILE...]");
    return 2;
}

if (args.Length > 1)
{
    foreach (string file in args[1..])
    {
        try
        {
            target(File.ReadAllBytes(file));
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"{file}: {ex.GetType().Name}: {ex.Message}");
            return 1;
        }
    }

    return 0;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    target(buffer.ToArray());
});
return 0;
