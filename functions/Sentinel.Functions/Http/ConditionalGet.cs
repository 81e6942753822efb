using System.Security.Cryptography;

namespace Sentinel.Functions.Http;

/// <summary>
/// Conditional GETs for the API's JSON answers: a successful GET under <c>/api/</c> gets a strong <c>ETag</c> (a hash
/// of its body) unless its endpoint set one (rules and receivers use their version), and a request whose
/// <c>If-None-Match</c> names it is answered 304 with no body. The dashboard polls every few seconds; an idle page then
/// costs the query but neither the transfer nor the browser's parsing and redrawing. Answers over 1 MiB, and anything
/// but JSON, are copied through as they came, without an ETag.
/// </summary>
internal static class ConditionalGet
{
    private const int MaxBuffered = 1024 * 1024;

    public static IApplicationBuilder UseConditionalGet(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        if (!HttpMethods.IsGet(http.Request.Method) || !http.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
        {
            await next(http);
            return;
        }

        var original = http.Response.Body;
        await using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        try
        {
            await next(http);
        }
        finally
        {
            http.Response.Body = original;
        }

        // Nothing written (a 404 or 405 the problem middleware fills in on the way out): leave the answer untouched.
        if (buffer.Length == 0)
            return;
        buffer.Position = 0;
        if (http.Response.StatusCode == StatusCodes.Status200OK && buffer.Length <= MaxBuffered
            && http.Response.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true)
        {
            var etag = http.Response.Headers.ETag.ToString();
            if (etag.Length == 0)
            {
                etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)).AsSpan(0, 12)) + "\"";
                http.Response.Headers.ETag = etag;
            }

            http.Response.Headers.CacheControl = "private, no-cache";
            if (http.Request.Headers.IfNoneMatch.Any(v => v is not null && v.Split(',').Any(t => t.Trim() == etag || t.Trim() == "*")))
            {
                http.Response.StatusCode = StatusCodes.Status304NotModified;
                http.Response.ContentLength = null;
                http.Response.Headers.ContentType = default;
                return;
            }
        }

        if (!http.Response.HasStarted)
            http.Response.ContentLength = buffer.Length;
        await buffer.CopyToAsync(original, http.RequestAborted);
    });
}
