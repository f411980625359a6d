using System.CommandLine;
using BundleCluster.Abstractions.Jobs;
using BundleCluster.Storage.S3;

namespace BundleCluster.Cli.Commands;

/// <summary>The options every command that talks to S3 takes; credentials come from the AWS SDK's default chain.</summary>
internal sealed class S3CliOptions
{
    public Option<string> EndpointUrl { get; } = CliOptions.Text("--endpoint-url", "", "S3-compatible endpoint (path-style addressing; the instance metadata endpoint is never probed)");

    public Option<string> Region { get; } = CliOptions.Text("--region", "", "AWS region of the bucket");

    public Option<string> Acl { get; } = new("--acl") { Description = "Canned ACL: aws-exec-read (default), public-read, …, or none (buckets with ACLs disabled)", DefaultValueFactory = _ => "aws-exec-read" };

    public Option<bool> Compat { get; } = new("--s3-compat") { Description = "For stores without the SDK's streaming checksums: plain bodies with Content-MD5" };

    public Option<int> Retry { get; } = new("--retry") { Description = "Retries per request, with exponential backoff and jitter (default 5)", DefaultValueFactory = _ => 5 };

    public void AddTo(Command command)
    {
        command.Options.Add(EndpointUrl);
        command.Options.Add(Region);
        command.Options.Add(Acl);
        command.Options.Add(Compat);
        command.Options.Add(Retry);
    }

    /// <summary>The settings, validated: a bad one is one line before anything is read or written.</summary>
    public S3Settings Settings(ParseResult parsed) =>
        new S3Settings(parsed.GetValue(EndpointUrl), parsed.GetValue(Region), parsed.GetValue(Acl)!, parsed.GetValue(Compat), parsed.GetValue(Retry)).Validate();

    public S3Options Spec(ParseResult parsed)
    {
        S3Settings settings = Settings(parsed);
        return new S3Options(settings.EndpointUrl, settings.Region, settings.Acl, settings.PlainBodies);
    }

    /// <summary>-b BUCKET[/PREFIX] as the ec2 tools take it (an s3:// prefix is accepted too).</summary>
    public static S3Location Bucket(string value) => S3Location.Parse(S3Location.IsS3(value) ? value : S3Location.Scheme + value);
}
