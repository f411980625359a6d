using BundleCluster.Format;
using BundleCluster.Storage.S3;

namespace BundleCluster.Storage.Sources;

/// <summary>An opened image with what a plan pins of it.</summary>
public sealed record OpenedImage(IImageReader Reader, string Version, long MtimeUnixSeconds);

/// <summary>Opens the image a path or s3:// URI names, checking it is still the pinned version when one is given.</summary>
public static class ImageReaders
{
    /// <param name="admit">For files: sees the opened file before it is read (confinement to allowed roots).</param>
    public static async Task<OpenedImage> OpenAsync(string image, S3Settings? s3, string? expectedVersion, CancellationToken ct,
        Action<Format.Files.RegularFile>? admit = null)
    {
        if (StorageLocation.From(image) is S3Location)
        {
            S3ImageReader reader = await S3ImageReader.OpenAsync(image, s3 ?? S3Settings.Default, expectedVersion, ct);
            return new OpenedImage(reader, reader.Version, reader.MtimeUnixSeconds);
        }

        FileImageReader file = FileImageReader.Open(image, expectedVersion, admit);
        return new OpenedImage(file, file.Version, file.MtimeUnixSeconds);
    }
}
