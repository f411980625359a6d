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
        ["--identity-root"] = "BundleSilo:IdentityRoot",
        ["--dashboard"] = "BundleSilo:Dashboard",
        ["--shutdown-timeout"] = "BundleSilo:ShutdownTimeoutSeconds",
        ["--s3-endpoint-url"] = "BundleSilo:S3EndpointUrl",
        ["--s3-region"] = "BundleSilo:S3Region",
        ["--s3-acl"] = "BundleSilo:S3Acl",
        ["--s3-compat"] = "BundleSilo:S3Compat",
    };

    /// <summary>Flags that may repeat, and the indexed configuration key each becomes.</summary>
    public static readonly Dictionary<string, string> RepeatableFlags = new()
    {
        ["--allowed-root"] = "AllowedRoot",
        ["--key-root"] = "KeyRoot",
        ["--allowed-s3"] = "AllowedS3",
    };

    /// <summary>
    /// Rewrites each "--allowed-root DIR", "--key-root DIR" and "--allowed-s3 S3URI" as an indexed key, since
    /// configuration keeps only the last of a repeated flag.
    /// </summary>
    public static string[] Normalize(string[] args)
    {
        var result = new List<string>();
        var counts = new Dictionary<string, int>();
        for (int i = 0; i < args.Length; i++)
        {
            if (RepeatableFlags.TryGetValue(args[i], out string? key) && i + 1 < args.Length)
            {
                int index = counts.GetValueOrDefault(key);
                counts[key] = index + 1;
                result.Add($"--BundleSilo:{key}:{index}={args[++i]}");
            }
            else
            {
                result.Add(args[i]);
            }
        }

        return [.. result];
    }
}
