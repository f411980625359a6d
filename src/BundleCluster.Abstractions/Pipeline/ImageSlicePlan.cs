namespace BundleCluster.Abstractions.Pipeline;

/// <summary>
/// What every pipeline grain needs to rebuild the tar stream layout on its own silo: the image by reference and
/// version, the member name and the header fields, and how the stream is sliced — and the job's trace context
/// (W3C traceparent of its root span), which every stage's spans hang from.
/// </summary>
[GenerateSerializer, Immutable, Alias("bc.ImageSlicePlan")]
public sealed record ImageSlicePlan(
    [property: Id(0)] string JobId,
    [property: Id(1)] string ImagePath,
    [property: Id(2)] string ImageVersion,
    [property: Id(3)] string MemberName,
    [property: Id(4)] long ImageSize,
    [property: Id(5)] long MtimeUnixSeconds,
    [property: Id(6)] long TarLength,
    [property: Id(7)] int SliceSize,
    [property: Id(8)] int CompressionLevel,
    [property: Id(9)] Jobs.S3Options? S3 = null,
    [property: Id(10)] string? TraceParent = null)
{
    public int SliceCount => checked((int)((TarLength + SliceSize - 1) / SliceSize));
}
