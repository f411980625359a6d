using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BundleCluster.Api;

/// <summary>
/// Every error bundle-api answers is an RFC 9457 problem document (<c>application/problem+json</c>): a status, a
/// title, one sentence of detail, and — when one input is at fault — <c>field</c>, naming it as the request spelled it.
/// </summary>
internal static class Problems
{
    public const string FieldKey = "field";

    public static ProblemHttpResult Of(int status, string title, string detail, string? field = null) =>
        TypedResults.Problem(detail, statusCode: status, title: title,
            extensions: field is null ? null : new Dictionary<string, object?> { [FieldKey] = field });

    public static ProblemHttpResult BadRequest(string detail, string? field = null) => Of(StatusCodes.Status400BadRequest, "Bad request", detail, field);

    public static ProblemHttpResult Forbidden(string detail, string? field = null) => Of(StatusCodes.Status403Forbidden, "Forbidden", detail, field);

    public static ProblemHttpResult NotFound(string id) => Of(StatusCodes.Status404NotFound, "Not found", $"no job '{id}'");

    public static ProblemHttpResult Unprocessable(string detail, string? field = null) =>
        Of(StatusCodes.Status422UnprocessableEntity, "Unprocessable request", detail, field);
}
