using BundleCluster.Client;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace BundleCluster.Api;

/// <summary>
/// The cluster not answering (no silo yet, silos restarting, the client still connecting) is a 503 problem with one
/// sentence, never a stack trace; the caller retries. Other failures stay 500s (the framework's problem document).
/// </summary>
internal sealed class ClusterUnavailableHandler(Jobs.RefusedDemand demand) : IExceptionHandler
{
    /// <summary>The failures that mean "no silo answers" (no silo yet, silos restarting, scaled to zero, the client connecting).</summary>
    public static bool MeansUnavailable(Exception exception) => exception switch
    {
        ClusterUnreachableException or SiloUnavailableException or TimeoutException or OrleansMessageRejectionException
            or Orleans.Runtime.Messaging.ConnectionFailedException or InvalidOperationException { Source: "Orleans.Core" } => true,
        // The client learns which grain implements an interface from the silos: with none (scaled to zero, none joined
        // yet) not even a grain reference can be made.
        ArgumentException argument => argument.Message.StartsWith("Could not find an implementation for interface", StringComparison.Ordinal),
        _ => false,
    };

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!MeansUnavailable(exception))
        {
            return false;
        }

        if (HttpMethods.IsPost(httpContext.Request.Method) && httpContext.Request.Path.StartsWithSegments("/v1/jobs"))
        {
            demand.Refused(); // work is waiting for a silo: the scale signal says so (RefusedDemand)
        }

        httpContext.Response.Headers.RetryAfter = "5";
        await Problems.Of(StatusCodes.Status503ServiceUnavailable, "Cluster unavailable",
            "the cluster does not answer right now; try again shortly").ExecuteAsync(httpContext);
        return true;
    }
}
