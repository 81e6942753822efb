using Sentinel.Functions.Functions;
using Sentinel.Functions.Http;

namespace Sentinel.Functions.CustomHandler;

internal static class CustomHandlerEndpoints
{
    /// <summary>Invocation envelopes can be large (100 events of up to 1 MB, double-encoded); the sender is the local host.</summary>
    public const long MaxInvocationBytes = 512L * 1024 * 1024;

    /// <summary>
    /// <c>GET /</c> answers at once (the host polls it every 25 ms until the process is ready, and pings it later), and
    /// <c>POST /{FunctionName}</c> runs non-HTTP triggers. Mapped only under the Functions host: there the port is bound
    /// to loopback and only the host calls it. The standalone host dispatches in-process instead, so no public
    /// endpoint can invoke a function directly.
    /// </summary>
    public static IEndpointRouteBuilder MapCustomHandler(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Text("ok"));
        app.MapPost("/{functionName}", async (string functionName, HttpContext http, InvocationDispatcher dispatcher, CancellationToken ct) =>
        {
            var function = FunctionRegistry.Find(functionName);
            if (function is null)
                return Problems.Result(404, "function-not-found", "No such function", $"'{functionName}' is not in the function registry.");
            var size = http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>();
            if (size is { IsReadOnly: false })
                size.MaxRequestBodySize = MaxInvocationBytes;
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body, ct);
            var invocationId = http.Request.Headers["X-Azure-Functions-InvocationId"].ToString();
            var outcome = await dispatcher.DispatchAsync(function, body.GetBuffer().AsMemory(0, (int)body.Length),
                invocationId.Length > 0 ? invocationId : Guid.NewGuid().ToString(), ct);
            http.Response.StatusCode = outcome.StatusCode;
            http.Response.ContentType = "application/json; charset=utf-8";
            http.Response.ContentLength = outcome.Body.Length;
            await http.Response.Body.WriteAsync(outcome.Body, ct);
            return Results.Empty;
        });
        return app;
    }
}
