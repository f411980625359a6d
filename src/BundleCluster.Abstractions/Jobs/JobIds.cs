using System.Security.Cryptography;
using System.Text;

namespace BundleCluster.Abstractions.Jobs;

/// <summary>Job ids that follow from who asks and with which idempotency key.</summary>
public static class JobIds
{
    /// <summary>The job id for an idempotency key: per tenant (two tenants' "nightly-1" are two jobs), hex, fixed length.</summary>
    public static string ForKey(string tenant, string idempotencyKey) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{tenant}\n{idempotencyKey}")))[..32];

    /// <summary>The idempotency key of a series' run: one job per series and scheduled date, however often it is asked for.</summary>
    public static string NightlyKey(string series, string date) => $"nightly/{series}/{date}";
}
