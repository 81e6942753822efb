using Sentinel.Core.Identity;
using Sentinel.Functions.Http;

namespace Sentinel.Functions.Gateway;

/// <summary>Maps the identity use cases' expected failures to problem+json.</summary>
internal static class GatewayResults
{
    public static IResult Problem(Failure failure)
    {
        var status = failure.Kind switch
        {
            FailureKind.Invalid => StatusCodes.Status422UnprocessableEntity,
            FailureKind.Unauthorized => StatusCodes.Status401Unauthorized,
            FailureKind.Forbidden => StatusCodes.Status403Forbidden,
            FailureKind.NotFound => StatusCodes.Status404NotFound,
            FailureKind.Conflict => StatusCodes.Status409Conflict,
            FailureKind.Throttled => StatusCodes.Status429TooManyRequests,
            _ => StatusCodes.Status400BadRequest,
        };
        int? retryAfter = failure.RetryAfter is { } r ? (int)Math.Max(1, Math.Ceiling(r.TotalSeconds)) : null;
        return Problems.Result(status, failure.Slug, failure.Title, failure.Detail, retryAfter);
    }

    public static IResult Tokens(TokenPair pair, TimeProvider time, int status = StatusCodes.Status200OK)
    {
        var body = new TokenResponse(pair.AccessToken, "Bearer", (int)Math.Round((pair.AccessTokenExpiresAt - time.GetUtcNow()).TotalSeconds),
            pair.RefreshToken, pair.RefreshTokenExpiresAt, UserView.From(pair.User));
        return new NoStore(TypedResults.Json(body, GatewayJsonContext.Default.TokenResponse, statusCode: status));
    }

    /// <summary>Responses holding secrets must not be cached (RFC 6749 §5.1).</summary>
    public sealed class NoStore(IResult inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.CacheControl = "no-store";
            httpContext.Response.Headers.Pragma = "no-cache";
            return inner.ExecuteAsync(httpContext);
        }
    }
}
