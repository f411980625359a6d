namespace BundleCluster.Silo;

/// <summary>Maps bundle-silo's flags onto configuration keys; --allowed-root may repeat.</summary>
internal static class SiloArguments
{
    public static readonly Dictionary<string, string> SwitchMappings = new()
    {
        ["--redis"] = "BundleSilo:Redis",
        ["--silo-port"] = "BundleSilo:SiloPort",
        ["--gateway-port"] = "BundleSilo:GatewayPort",
        ["--http-port"] = "BundleSilo:HttpPort",
        ["--advertise"] = "BundleSilo:Advertise",
        ["--cluster-id"] = "BundleSilo:ClusterId",
        ["--service-id"] = "BundleSilo:ServiceId",
        ["--compression-slots"] = "BundleSilo:CompressionSlots",
        ["--slices-in-flight"] = "BundleSilo:SlicesInFlight",
        ["--max-running-jobs"] = "BundleSilo:MaxRunningJobs",
    };

    /// <summary>
    /// Rewrites each "--allowed-root DIR" and "--key-root DIR" as an indexed key, since configuration keeps only the
    /// last of a repeated flag.
    /// </summary>
    public static string[] Normalize(string[] args)
    {
        var result = new List<string>();
        int root = 0;
        int keyRoot = 0;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--allowed-root" && i + 1 < args.Length)
            {
                result.Add($"--BundleSilo:AllowedRoot:{root++}={args[++i]}");
            }
            else if (args[i] == "--key-root" && i + 1 < args.Length)
            {
                result.Add($"--BundleSilo:KeyRoot:{keyRoot++}={args[++i]}");
            }
            else
            {
                result.Add(args[i]);
            }
        }

        return [.. result];
    }
}
