using System.CommandLine;
using System.Security.Cryptography;
using BundleCluster.Client;
using BundleCluster.Format.Errors;

namespace BundleCluster.Cli.Commands;

/// <summary>
/// <c>bundlectl token</c>: a bearer token for a development bundle-api (started with <c>--jwt-key-file</c> set to the
/// public half of <c>--key</c>), so the service can be tried locally in a few commands. Printed on stdout alone.
/// </summary>
internal static class TokenCommand
{
    public const string DefaultIssuer = "bundlecluster-dev";
    public const string DefaultAudience = "bundle-api";

    public static Command Create()
    {
        Option<string> key = CliOptions.Text("--key", "-k", "PEM private key (RSA: RS256, EC P-256: ES256) whose public key bundle-api trusts", required: true);
        Option<string> subject = CliOptions.Text("--subject", "-s", "The sub claim: a subject of a tenant in bundle-api's tenants file", required: true);
        Option<string> issuer = CliOptions.Text("--issuer", "", $"The iss claim (default {DefaultIssuer})");
        Option<string> audience = CliOptions.Text("--audience", "", $"The aud claim (default {DefaultAudience})");
        Option<string> scope = CliOptions.Text("--scope", "", "A scope claim, e.g. bundle.scale or bundle.operator");
        var minutes = new Option<int>("--minutes") { Description = "Lifetime in minutes (default 60, at most 1440)", DefaultValueFactory = _ => 60 };
        var command = new Command("token", "Mint a development bearer token for bundle-api") { key, subject, issuer, audience, scope, minutes };
        command.SetAction((parsed, ct) => BundleCtl.GuardAsync(parsed, context =>
        {
            int lifetime = parsed.GetValue(minutes);
            if (lifetime is < 1 or > 1440)
            {
                throw BundleException.InvalidParameter($"--minutes {lifetime} is not 1-1440");
            }

            string keyFile = parsed.GetValue(key)!;
            string pem = File.Exists(keyFile)
                ? File.ReadAllText(keyFile)
                : throw new BundleException(BundleErrorKind.FileNotFound, $"key file '{keyFile}' does not exist");
            var claims = new Dictionary<string, object>
            {
                ["sub"] = parsed.GetValue(subject)!,
                ["iss"] = parsed.GetValue(issuer) ?? DefaultIssuer,
                ["aud"] = parsed.GetValue(audience) ?? DefaultAudience,
            };
            if (parsed.GetValue(scope) is { } scopes)
            {
                claims["scope"] = scopes;
            }

            try
            {
                context.Output.WriteLine(DevelopmentToken.Sign(pem, claims, TimeSpan.FromMinutes(lifetime)));
            }
            catch (Exception ex) when (ex is ArgumentException or CryptographicException)
            {
                throw new BundleException(BundleErrorKind.KeyMismatch, $"'{keyFile}' holds no RSA or EC P-256 private key (PEM)");
            }

            return Task.FromResult(ExitCodes.Ok);
        }, ct));
        return command;
    }
}
