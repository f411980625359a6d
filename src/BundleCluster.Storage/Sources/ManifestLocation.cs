using BundleCluster.Format.Errors;
using BundleCluster.Format.Unbundling;
using BundleCluster.Storage.S3;

namespace BundleCluster.Storage.Sources;

/// <summary>
/// A bundle named by its manifest — a path or <c>s3://bucket/prefix/NAME.manifest.xml</c> — opened for reading: the
/// place that holds its parts and the manifest's file name there (a baseline for incremental re-bundling).
/// </summary>
public static class ManifestLocation
{
    private const string Suffix = ".manifest.xml";

    public static (IPartSource Source, string ManifestFileName) Open(string manifest, S3Settings? settings)
    {
        switch (StorageLocation.From(manifest))
        {
            case S3Location s3:
                string key = s3.KeyPrefix.TrimEnd('/');
                int slash = key.LastIndexOf('/');
                string name = RequireManifestName(key[(slash + 1)..], manifest);
                return (new S3PartSource(new S3Location(s3.Bucket, key[..(slash + 1)]), settings ?? S3Settings.Default), name);
            case FileLocation file:
                string path = Path.GetFullPath(file.Path);
                return (DirectoryPartSource.ForDirectory(Path.GetDirectoryName(path)!), RequireManifestName(Path.GetFileName(path), manifest));
            default:
                throw new InvalidOperationException("unknown storage location");
        }
    }

    private static string RequireManifestName(string name, string manifest) =>
        name.Length > Suffix.Length && name.EndsWith(Suffix, StringComparison.Ordinal)
            ? name
            : throw BundleException.InvalidParameter($"'{manifest}' does not name a manifest (NAME{Suffix})");
}
