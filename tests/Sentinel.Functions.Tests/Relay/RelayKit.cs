using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Sentinel.Core.Relay;
using Sentinel.Functions.Hosting;
using Sentinel.Functions.Tests.Gateway;

namespace Sentinel.Functions.Tests.Relay;

/// <summary>A relay under test: the real app (PostgreSQL, Redis, Azurite) with a fast retry schedule, the stand-in stack,
/// an admin, and one route per instance created through the API.</summary>
internal sealed class RelayKit : IAsyncDisposable
{
    public const string JwtKey = "evolution-jwt-key-0123456789abcdef";
    public const string ChatwootSecret = "chatwoot-inbox-secret-0123456789";

    private RelayKit(SentinelTestHost host, StackReceiver stack, string admin, string tenant)
    {
        Host = host;
        Stack = stack;
        Admin = admin;
        TenantId = tenant;
    }

    public SentinelTestHost Host { get; }

    public StackReceiver Stack { get; }

    public string Admin { get; }

    public string TenantId { get; }

    public static readonly Dictionary<string, string> FastRetries = new()
    {
        ["Relay:RetrySchedule"] = "1s,1s,1s,1s,1s,1s",
        ["Relay:BreakerOpenFor"] = "00:00:01",
    };

    public static async Task<RelayKit> StartAsync(IDictionary<string, string>? settings = null, Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? services = null)
    {
        var all = new Dictionary<string, string>(FastRetries);
        foreach (var (k, v) in settings ?? new Dictionary<string, string>())
            all[k] = v;
        var host = await SentinelTestHost.StartAsync(HostMode.Standalone, services, settings: all);
        var stack = await StackReceiver.StartAsync();
        var (token, _, tenant, _) = await host.Client.SignupAsync();
        return new RelayKit(host, stack, GatewayClient.Bearer(token), tenant);
    }

    /// <summary>A unique instance name for a test (instances are unique across tenants).</summary>
    public static string NewInstance() => "bot-" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>A route: JWT auth, replies through the stand-in Evolution, and the targets asked for.</summary>
    public object Route(string instance, bool n8n = true, bool chatwoot = true, bool botpress = false, object? auth = null, bool n8nOrdered = true) => new
    {
        instance,
        auth = auth ?? new { mode = "jwt", jwtKey = JwtKey },
        evolution = new { baseUrl = Stack.BaseUrl + "/evolution", apiKey = "evolution-instance-token", timeoutSeconds = 5 },
        n8n = n8n ? new { url = Stack.BaseUrl + "/n8n/webhook/whatsapp", headerName = "X-N8N-Auth", headerValue = "n8n-header-secret", timeoutSeconds = 2, ordered = n8nOrdered } : null,
        chatwoot = chatwoot ? new { baseUrl = Stack.BaseUrl + "/chatwoot", accountId = 1, inboxId = 7, apiToken = "chatwoot-agent-bot-token", webhookSecret = ChatwootSecret, timeoutSeconds = 5 } : null,
        botpress = botpress ? new { baseUrl = Stack.BaseUrl + "/botpress", botId = "vendas", timeoutSeconds = 5 } : null,
        bot = botpress && !n8n ? "botpress" : null,
    };

    public async Task<JsonElement> CreateRouteAsync(object route)
    {
        var (status, body, _) = await Host.Client.SendAsync(HttpMethod.Post, "/api/relay/routes", route, Admin);
        Assert.True(status == HttpStatusCode.Created, $"route: {(int)status} {body}");
        return body;
    }

    /// <summary>A recorded payload with its instance (and, optionally, key id, text and timestamp) replaced.</summary>
    public static byte[] Payload(string file, string instance, string? keyId = null, string? text = null, long? timestamp = null, string? remoteJid = null)
    {
        var node = JsonNode.Parse(Payloads.Read("relay/" + file))!;
        if (node["instance"] is not null)
            node["instance"] = instance;
        var data = node["data"];
        if (keyId is not null && data?["key"] is JsonObject key)
            key["id"] = keyId;
        if (keyId is not null && data?["keyId"] is not null)
            data["keyId"] = keyId;
        if (remoteJid is not null && data?["key"] is JsonObject k2)
            k2["remoteJid"] = remoteJid;
        if (text is not null && data?["message"] is JsonObject message)
            message["conversation"] = text;
        if (timestamp is not null && data?["messageTimestamp"] is not null)
            data["messageTimestamp"] = timestamp;
        return Encoding.UTF8.GetBytes(node.ToJsonString());
    }

    public Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostEvolutionAsync(string instance, byte[] body, string? authorization = "jwt", string? suffix = null) =>
        PostRawAsync($"/api/relay/evolution/{instance}{suffix}", body, authorization == "jwt" ? "Bearer " + EvolutionWebhook.CreateJwt(JwtKey, TimeProvider.System.GetUtcNow()) : authorization);

    public Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostChatwootAsync(string instance, byte[] body, string? delivery = null,
        string secret = ChatwootSecret, long? timestamp = null)
    {
        var ts = (timestamp ?? TimeProvider.System.GetUtcNow().ToUnixTimeSeconds()).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var signature = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.ASCII.GetBytes(ts + ".").Concat(body).ToArray()));
        return PostRawAsync($"/api/relay/chatwoot/{instance}", body, null, new()
        {
            ["X-Chatwoot-Signature"] = signature,
            ["X-Chatwoot-Timestamp"] = ts,
            ["X-Chatwoot-Delivery"] = delivery ?? Guid.NewGuid().ToString(),
        });
    }

    public async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostRawAsync(string path, byte[] body, string? authorization, Dictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (authorization is not null)
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        foreach (var (k, v) in headers ?? [])
            request.Headers.TryAddWithoutValidation(k, v);
        var response = await Host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), response);
    }

    public async Task<JsonElement> ConversationAsync(string id)
    {
        var (status, body, _) = await Host.Client.SendAsync(HttpMethod.Get, $"/api/relay/conversations/{id}", null, Admin);
        Assert.Equal(HttpStatusCode.OK, status);
        return body;
    }

    public async Task<long> CountAsync(string sql, params object[] args) => Convert.ToInt64(await ScalarAsync(sql, args));

    /// <summary>One value from the relay's database (what the tests check behind the API).</summary>
    public async Task<object?> ScalarAsync(string sql, params object[] args)
    {
        await using var command = Host.Database!.DataSource.CreateCommand(sql);
        foreach (var a in args)
            command.Parameters.Add(new NpgsqlParameter { Value = a });
        return await command.ExecuteScalarAsync();
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            if (watch.Elapsed > timeout)
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
            await Task.Delay(50);
        }
    }

    public static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what) => WaitUntilAsync(() => Task.FromResult(condition()), timeout, what);

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Stack.DisposeAsync();
    }
}
