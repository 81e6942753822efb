using System.Globalization;

namespace Sentinel.Functions.Http;

/// <summary>
/// RFC 9457 problem details with stable, non-dereferenceable type URIs <c>urn:problem:sentinel:{slug}</c>
/// (the slugs are listed in docs/problems.md). Every error the API returns, whether from an endpoint, the
/// framework (bad JSON, body too large, unknown route) or an exception, goes out as <c>application/problem+json</c>.
/// </summary>
internal static class Problems
{
    public const string TypePrefix = "urn:problem:sentinel:";

    public static IResult Result(int status, string slug, string title, string? detail = null, int? retryAfterSeconds = null, IDictionary<string, object?>? extensions = null)
    {
        var result = TypedResults.Problem(detail, statusCode: status, title: title, type: TypePrefix + slug, extensions: extensions);
        return retryAfterSeconds is { } seconds ? new WithRetryAfter(result, seconds) : result;
    }

    /// <summary>The slug for a status code when nothing more specific is known.</summary>
    public static string SlugFor(int status) => status switch
    {
        400 => "bad-request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        408 => "request-timeout",
        409 => "conflict",
        411 => "length-required",
        413 => "payload-too-large",
        415 => "unsupported-media-type",
        422 => "validation-failed",
        429 => "quota-exceeded",
        500 => "internal-error",
        503 => "unavailable",
        _ => "http-" + status.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Problem details everywhere, with our type URIs, and the right status for the framework's own bad-request exceptions.</summary>
    public static IServiceCollection AddSentinelProblems(this IServiceCollection services) =>
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            var status = problem.Status ?? context.HttpContext.Response.StatusCode;
            if (problem.Type is null || !problem.Type.StartsWith(TypePrefix, StringComparison.Ordinal))
                problem.Type = TypePrefix + SlugFor(status);
            problem.Instance ??= context.HttpContext.Request.Path;
            if (status == StatusCodes.Status503ServiceUnavailable && context.Exception is not null)
            {
                problem.Detail = "A store this request needs is unreachable; nothing was changed. Retry shortly.";
                context.HttpContext.Response.Headers.RetryAfter = "5";
            }

            if (context.Exception is BadHttpRequestException bad && status < 500)
                problem.Detail ??= bad.Message;
        });

    public static WebApplication UseSentinelProblems(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            // Kestrel's and minimal APIs' own client errors (413 body too large, 400 bad JSON) keep their status; a store
            // that cannot be reached is 503 (retry), not a bug.
            StatusCodeSelector = ex => ex switch
            {
                BadHttpRequestException bad => bad.StatusCode,
                _ when IsDependencyFailure(ex) => StatusCodes.Status503ServiceUnavailable,
                _ => StatusCodes.Status500InternalServerError,
            },
            SuppressDiagnosticsCallback = context => context.Exception is BadHttpRequestException,
        });
        app.UseStatusCodePages();
        return app;
    }

    /// <summary>Infrastructure that is down or too slow: PostgreSQL, Redis, Table storage.</summary>
    public static bool IsDependencyFailure(Exception ex) =>
        ex is Azure.RequestFailedException { Status: 0 or >= 500 } or StackExchange.Redis.RedisException or Npgsql.NpgsqlException or TimeoutException
        || (ex is AggregateException agg && agg.InnerExceptions.All(IsDependencyFailure));

    private sealed class WithRetryAfter(IResult inner, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
