using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Sentinel.Functions.Tests.Relay;

/// <summary>How a stand-in answers.</summary>
internal enum Behavior
{
    Ok,
    Fail500,
    Hang,
    NotFound404,
    Gone410,
    TooMany429,
}

/// <summary>One request a stand-in received, and what it answered.</summary>
internal sealed record Received(string Target, string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body, int Answered)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var v) ? v : "";
}

/// <summary>
/// Small Kestrel app on loopback standing in for the chatbot stack: n8n (<c>/n8n/…</c>), Chatwoot's Application API
/// (<c>/chatwoot/api/v1/accounts/{id}/…</c>), Evolution's sendText (<c>/evolution/message/sendText/{instance}</c>) and
/// Botpress Converse (<c>/botpress/api/v1/bots/{bot}/converse/{user}</c>). It records everything it gets and answers as
/// told per target: OK, 500, hang, 404, 410 or 429 with Retry-After.
/// </summary>
internal sealed class StackReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private long _ids = 1000;

    private StackReceiver(WebApplication app)
    {
        _app = app;
        BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    }

    public string BaseUrl { get; }

    public ConcurrentQueue<Received> Requests { get; } = new();

    public ConcurrentDictionary<string, Behavior> Behaviors { get; } = new();

    public int RetryAfterSeconds { get; set; } = 3;

    /// <summary>Added to every answer (a slow receiver).</summary>
    public TimeSpan Delay { get; set; }

    public IReadOnlyList<Received> Of(string target, bool succeeded = true) =>
        Requests.Where(r => r.Target == target && (!succeeded || r.Answered is >= 200 and < 300)).ToList();

    public static async Task<StackReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        StackReceiver? self = null;
        app.Run(async http => await self!.HandleAsync(http));
        await app.StartAsync();
        self = new StackReceiver(app);
        return self;
    }

    private async Task HandleAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "";
        var target = path.Split('/', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        using var reader = new StreamReader(http.Request.Body);
        var body = await reader.ReadToEndAsync();
        var behavior = Behaviors.GetValueOrDefault(target, Behavior.Ok);
        if (Delay > TimeSpan.Zero)
            await Task.Delay(Delay);
        var (status, answer) = behavior switch
        {
            Behavior.Fail500 => (500, """{"error":"boom"}"""),
            Behavior.NotFound404 => (404, """{"code":404,"message":"The requested webhook \"POST evolution\" is not registered."}"""),
            Behavior.Gone410 => (410, "{}"),
            Behavior.TooMany429 => (429, "{}"),
            _ => Answer(target, http.Request.Method, path, body),
        };
        var headers = http.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
        Requests.Enqueue(new Received(target, http.Request.Method, path, headers, body, behavior == Behavior.Hang ? 0 : status));
        if (behavior == Behavior.Hang)
        {
            await Task.Delay(Timeout.Infinite, http.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            return;
        }

        if (behavior == Behavior.TooMany429)
            http.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(answer);
    }

    private (int, string) Answer(string target, string method, string path, string body)
    {
        var id = Interlocked.Increment(ref _ids);
        switch (target)
        {
            case "n8n":
                return (200, """{"message":"Workflow was started"}""");
            case "evolution":
                return (201, $$"""{"key":{"remoteJid":"x","fromMe":true,"id":"SENT{{id}}"},"status":"PENDING","messageType":"conversation"}""");
            case "botpress":
                var text = JsonDocument.Parse(body).RootElement.GetProperty("text").GetString();
                return (200, JsonSerializer.Serialize(new { responses = new object[] { new { type = "typing", value = true }, new { type = "text", text = "bot: " + text, markdown = true } } }));
            case "chatwoot":
                if (path.EndsWith("/contacts", StringComparison.Ordinal))
                    return (200, "{\"payload\":{\"contact\":{\"id\":" + id + "},\"contact_inbox\":{\"inbox_id\":7,\"source_id\":\"src-" + id + "\"}}}");
                if (path.EndsWith("/conversations", StringComparison.Ordinal))
                    return (200, $$"""{"id":{{id}},"inbox_id":7,"status":"pending"}""");
                if (path.EndsWith("/messages", StringComparison.Ordinal))
                    return (200, $$"""{"id":{{id}},"message_type":0}""");
                return (200, "{}");
            default:
                return (404, "{}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
