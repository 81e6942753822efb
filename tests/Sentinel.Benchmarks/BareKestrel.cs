using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Sentinel.Benchmarks;

/// <summary>The baseline server: Kestrel with one minimal-API endpoint answering a JSON body of the same size, nothing else.</summary>
internal static class BareKestrel
{
    public const string Body = "{\"tenantId\":\"aaaaaaaaaaaaaaaa\",\"subjectId\":\"bbbbbbbbbbbbbbbb\",\"kind\":\"user\",\"role\":\"owner\",\"scopes\":[],\"sessionId\":\"cccccccccccccccc\",\"expiresAt\":\"2026-11-22T10:00:00+00:00\"}";

    public static async Task RunAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.MapGet("/bare", () => Results.Text(Body, "application/json"));
        await app.RunAsync();
    }
}
