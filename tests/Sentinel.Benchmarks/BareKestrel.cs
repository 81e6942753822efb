using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Sentinel.Benchmarks;

/// <summary>The baseline server: Kestrel with one minimal-API endpoint answering a JSON body of the same size, nothing else.</summary>
internal static class BareKestrel
{
    public const string Body = "{\"tenantId\":\"aaaaaaaaaaaaaaaa\",\"subjectId\":\"bbbbbbbbbbbbbbbb\",\"kind\":\"user\",\"role\":\"owner\",\"scopes\":[],\"sessionId\":\"cccccccccccccccc\",\"expiresAt\":\"2026-11-22T10:00:00+00:00\"}";

    public const string AckBody = "{\"status\":\"stored\",\"decision\":\"owner bot → n8n\",\"conversation\":\"aaaaaaaaaaaaaaaa\",\"message\":1,\"deliveries\":1}";

    public static async Task RunAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.MapGet("/bare", () => Results.Text(Body, "application/json"));
        // The relay benchmark's baseline: read the whole webhook body, answer a small JSON acknowledgement.
        app.MapPost("/bare-webhook", async (HttpContext http) =>
        {
            var buffer = new byte[16 * 1024];
            while (await http.Request.Body.ReadAsync(buffer) > 0)
            {
            }

            return Results.Text(AckBody, "application/json");
        });
        await app.RunAsync();
    }
}
