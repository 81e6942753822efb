using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Sentinel.Functions.CustomHandler;

namespace Sentinel.Functions.Functions;

/// <summary>
/// The <c>http</c> function when the host sends it as an envelope instead of forwarding it (a host without
/// <c>enableForwardingHttpRequest</c>/<c>enableProxyingHttpRequest</c>, protocol notes §2.a): the request in
/// <c>Data.req</c> is replayed against this process's own loopback listener, so it runs through exactly the same
/// middleware and endpoints, and the answer goes back as <c>Outputs.res</c>.
/// </summary>
internal sealed class HttpEnvelopeFunction(IServer server, IHttpClientFactory clients) : IHttpEnvelopeFunction
{
    public const string ClientName = "loopback";

    // Not copied in either direction: they describe one connection, not the request.
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Content-Length", "Transfer-Encoding", "Connection",
    };

    public async Task<InvocationResult> RunAsync(InvocationRequest request, InvocationContext context, CancellationToken cancellationToken)
    {
        if (!request.TryGetData("req", out var req) || req.ValueKind != JsonValueKind.Object)
            throw new InvocationPayloadException("Data has no 'req' object.");
        var url = PayloadValue.TryGetProperty(req, "Url", out var u) ? PayloadValue.AsString(u) : null;
        var method = PayloadValue.TryGetProperty(req, "Method", out var m) ? PayloadValue.AsString(m) : null;
        if (url is null || method is null || !Uri.TryCreate(url, UriKind.Absolute, out var original))
            throw new InvocationPayloadException("Data.req has no usable Url and Method.");

        var result = InvocationResult.Ok();
        // Only the API is served this way; anything else could loop back into the invocation endpoints.
        if (!original.AbsolutePath.StartsWith("/api/", StringComparison.OrdinalIgnoreCase))
        {
            result.Outputs["res"] = Response(404, "application/problem+json", """{"type":"urn:problem:sentinel:not-found","title":"Not found","status":404}""", null);
            return result;
        }

        using var message = new HttpRequestMessage(new HttpMethod(method), new Uri(LoopbackBase(), original.PathAndQuery));
        string? contentType = null;
        if (PayloadValue.TryGetProperty(req, "Headers", out var headers) && headers.ValueKind == JsonValueKind.Object)
        {
            foreach (var h in headers.EnumerateObject())
            {
                var values = h.Value.ValueKind == JsonValueKind.Array
                    ? h.Value.EnumerateArray().Select(PayloadValue.AsString).OfType<string>().ToArray()
                    : [PayloadValue.AsString(PayloadValue.Unwrap(h.Value)) ?? ""];
                if (h.Name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
                    contentType = values.FirstOrDefault(); // set on the content below
                else if (!HopByHop.Contains(h.Name))
                    message.Headers.TryAddWithoutValidation(h.Name, values);
            }
        }

        message.Headers.TryAddWithoutValidation("X-Azure-Functions-InvocationId", context.InvocationId);
        if (req.TryGetProperty("Body", out var body) && body.ValueKind == JsonValueKind.String)
        {
            message.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body.GetString()!));
            if (contentType is not null)
                message.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        using var response = await clients.CreateClient(ClientName).SendAsync(message, cancellationToken);
        var responseHeaders = new JsonObject();
        foreach (var h in response.Headers.Concat(response.Content.Headers))
        {
            if (!HopByHop.Contains(h.Key))
                responseHeaders[h.Key] = string.Join(", ", h.Value);
        }

        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        result.Outputs["res"] = Response((int)response.StatusCode, null, text, responseHeaders);
        return result;
    }

    private static JsonObject Response(int status, string? contentType, string body, JsonObject? headers)
    {
        headers ??= [];
        if (contentType is not null)
            headers["Content-Type"] = contentType;
        return new JsonObject { ["statusCode"] = status, ["headers"] = headers, ["body"] = body };
    }

    private Uri LoopbackBase()
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("The server has no listening address to replay the request to.");
        return new Uri(address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }
}
