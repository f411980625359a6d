using System.Net;
using Microsoft.Extensions.Options;

namespace BundleCluster.Silo;

/// <summary>bundle-silo's own settings, checked before anything starts; each failure one line naming the flag.</summary>
internal sealed class SiloHostOptionsValidator : IValidateOptions<SiloHostOptions>
{
    public ValidateOptionsResult Validate(string? name, SiloHostOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Redis))
        {
            failures.Add("--redis HOST:PORT is required; silos cluster through Redis (for one machine, bundlectl runs an embedded silo)");
        }
        else if (BundleCluster.Grains.Hosting.SiloBuilderExtensions.RedisAddressProblem(options.Redis) is { } problem)
        {
            failures.Add($"--redis '{options.Redis}' {problem}");
        }

        if (options.AllowedRoots.Count == 0)
        {
            failures.Add("at least one --allowed-root DIR is required; a silo reads images only under allowed roots");
        }

        foreach (string prefix in options.AllowedS3)
        {
            try
            {
                BundleCluster.Storage.S3.S3Location.Parse(prefix);
            }
            catch (BundleCluster.Format.Errors.BundleException ex)
            {
                failures.Add($"--allowed-s3: {ex.Message}");
            }
        }

        if (options.DefaultS3() is { } s3)
        {
            try
            {
                new BundleCluster.Storage.S3.S3Settings(s3.EndpointUrl, s3.Region, s3.Acl, s3.PlainBodies).Validate();
            }
            catch (BundleCluster.Format.Errors.BundleException ex)
            {
                failures.Add($"--s3-*: {ex.Message}");
            }
        }

        if (options.ShutdownTimeoutSeconds is < 1 or > 3600)
        {
            failures.Add($"--shutdown-timeout {options.ShutdownTimeoutSeconds} is not a number of seconds from 1 to 3600");
        }

        if (options.IdentityRoot is { } identities && !Directory.Exists(identities))
        {
            failures.Add($"--identity-root '{identities}' is not an existing directory");
        }

        if (!IPAddress.TryParse(options.Advertise, out _))
        {
            failures.Add($"--advertise '{options.Advertise}' is not an IP address");
        }

        Port(options.SiloPort, "--silo-port", failures);
        Port(options.GatewayPort, "--gateway-port", failures);
        Port(options.HttpPort, "--http-port", failures);
        if (new[] { options.SiloPort, options.GatewayPort, options.HttpPort }.Distinct().Count() < 3)
        {
            failures.Add($"--silo-port {options.SiloPort}, --gateway-port {options.GatewayPort} and --http-port {options.HttpPort} must all differ");
        }

        if (string.IsNullOrWhiteSpace(options.ClusterId))
        {
            failures.Add("--cluster-id must not be empty");
        }

        if (string.IsNullOrWhiteSpace(options.ServiceId))
        {
            failures.Add("--service-id must not be empty");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Port(int port, string flag, List<string> failures)
    {
        if (port is < 1 or > 65535)
        {
            failures.Add($"{flag} {port} is not a TCP port (1-65535)");
        }
    }
}
