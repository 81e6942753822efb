using System.Net;
using System.Text;
using System.Text.Json;
using Sentinel.Contracts.EventHubs;
using Sentinel.Contracts.Metrics;

namespace Sentinel.Agent.Tests;

/// <summary>The spool's durability and bound, the sender's answers to each Event Hubs status, and install.</summary>
public sealed class SpoolAndSenderTests : IDisposable
{
    private const string EventHubKey = "sender-test-key-0123456789";
    private readonly string _dir = Directory.CreateTempSubdirectory("agent-spool-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Spool_SurvivesRestart_NeverReusesASequence_AndDropsTheOldestWhenFull()
    {
        var spool = new Spool(_dir, 1024 * 1024);
        var a = spool.NextSequence();
        spool.Write(a, new byte[100]);
        var b = spool.NextSequence();
        spool.Write(b, new byte[100]);
        spool.Delete([a, b]);
        File.WriteAllText(Path.Combine(_dir, "00000000000000000099.batch.tmp"), "half a write");

        var reopened = new Spool(_dir, 1024 * 1024);
        var next = reopened.NextSequence();
        Assert.Equal(Spool.SequenceBlock + 1, next); // after the reserved block: numbers that may have been used are never reused
        Assert.False(File.Exists(Path.Combine(_dir, "00000000000000000099.batch.tmp")));

        for (var i = 0; i < 12; i++)
            reopened.Write(reopened.NextSequence(), new byte[100 * 1024]); // 1.2 MB into a 1 MB spool
        Assert.Equal(10, reopened.Count);
        Assert.Equal(2, reopened.Dropped);
        Assert.Equal(next + 3, reopened.Peek(1)[0].Seq); // the two oldest written were dropped
        Assert.Equal(10, new Spool(_dir, 1024 * 1024).Count);
    }

    private sealed class Receiver : IDisposable
    {
        private readonly HttpListener _listener = new();

        public Receiver(Func<int, (int Status, string? RetryAfter)> answer, string? body = null)
        {
            Port = int.Parse(Sentinel.TestSupport.TestServers.ClosedPort().Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (_listener.IsListening)
                {
                    HttpListenerContext context;
                    try
                    {
                        context = await _listener.GetContextAsync();
                    }
                    catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                    {
                        return;
                    }

                    using var reader = new StreamReader(context.Request.InputStream);
                    var requestBody = await reader.ReadToEndAsync();
                    lock (Requests)
                        Requests.Add((context.Request.Url!.PathAndQuery, context.Request.Headers["Authorization"] ?? context.Request.Headers["Metadata"] ?? "", context.Request.ContentType ?? "", requestBody));
                    var (status, retryAfter) = answer(Requests.Count);
                    context.Response.StatusCode = status;
                    if (retryAfter is not null)
                        context.Response.Headers["Retry-After"] = retryAfter;
                    if (body is not null)
                    {
                        context.Response.ContentType = "application/json";
                        await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(body));
                    }

                    context.Response.Close();
                }
            });
        }

        public int Port { get; }
        public List<(string Path, string Authorization, string ContentType, string Body)> Requests { get; } = [];
        public void Dispose() => _listener.Close();
    }

    private (AgentRunner Runner, byte[] Key) Runner(int port)
    {
        var key = AgentSignature.DeriveKey("master-secret-for-sender-tests-0123"u8, "t1", "agent1", 1);
        var config = new AgentConfig
        {
            AgentId = "agent1", Key = AgentSignature.EncodeKey(key), KeyVersion = 1, Hub = "agent-metrics", SpoolDirectory = _dir,
            Connection = $"Endpoint=sb://127.0.0.1:{port}/;SharedAccessKeyName=agent-send;SharedAccessKey={EventHubKey}",
        };
        Assert.Null(config.Validate());
        return (new AgentRunner(config, TimeProvider.System, _ => { }), key);
    }

    [Fact]
    public async Task Sent_AsOneSignedBatchPerRequest_WithSasPartitionKeyAndOrder()
    {
        using var receiver = new Receiver(_ => (201, null));
        var (runner, key) = Runner(receiver.Port);
        using (runner)
        {
            for (var i = 0; i < 3; i++)
                await runner.CollectOnceAsync(CancellationToken.None);
            Assert.Null(await runner.Sender!.SendOnceAsync(CancellationToken.None));
            Assert.Equal(0, runner.Spool.Count);
        }

        var (path, authorization, contentType, body) = Assert.Single(receiver.Requests);
        Assert.Equal("/agent-metrics/messages?timeout=60&api-version=2014-01", path);
        Assert.Equal("application/vnd.microsoft.servicebus.json", contentType);
        Assert.Equal(SasValidation.Valid, SharedAccessSignature.Validate(authorization, new Uri($"http://127.0.0.1:{receiver.Port}/agent-metrics"),
            new Dictionary<string, string> { ["agent-send"] = EventHubKey }, TimeProvider.System.GetUtcNow()));
        using var doc = JsonDocument.Parse(body);
        var events = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(3, events.Count);
        var seq = 0L;
        foreach (var e in events)
        {
            var text = e.GetProperty("Body").GetString()!;
            var props = e.GetProperty("UserProperties");
            var ts = long.Parse(props.GetProperty(AgentSignature.TimestampProperty).GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(AgentSignature.Verify(key, "agent1", 1, ts, Encoding.UTF8.GetBytes(text), props.GetProperty(AgentSignature.SignatureProperty).GetString()));
            Assert.Equal("agent1", e.GetProperty("BrokerProperties").GetProperty("PartitionKey").GetString());
            var batch = JsonSerializer.Deserialize(text, MetricsJsonContext.Default.MetricBatch)!;
            Assert.True(batch.Seq > seq);
            seq = batch.Seq;
        }
    }

    [Fact]
    public async Task ServerBusy_BacksOffAtLeastFourSecondsOrRetryAfter_AndKeepsTheData()
    {
        var answers = new Queue<(int, string?)>([(503, null), (503, "30"), (500, null), (201, null)]);
        using var receiver = new Receiver(_ => answers.Dequeue());
        var (runner, _) = Runner(receiver.Port);
        using (runner)
        {
            await runner.CollectOnceAsync(CancellationToken.None);
            Assert.True(await runner.Sender!.SendOnceAsync(CancellationToken.None) >= TimeSpan.FromSeconds(4));
            Assert.True(await runner.Sender.SendOnceAsync(CancellationToken.None) >= TimeSpan.FromSeconds(30));
            Assert.True(await runner.Sender.SendOnceAsync(CancellationToken.None) >= TimeSpan.FromSeconds(1));
            Assert.Equal(1, runner.Spool.Count);
            Assert.Null(await runner.Sender.SendOnceAsync(CancellationToken.None));
            Assert.Equal(0, runner.Spool.Count);
            Assert.Equal(3, runner.Health.SendErrors);
        }
    }

    [Fact]
    public async Task Unauthorized_KeepsTheData_TooLarge_SplitsTheRequest()
    {
        using var receiver = new Receiver(n => n == 1 ? (401, null) : n == 2 ? (413, null) : (201, null));
        var (runner, _) = Runner(receiver.Port);
        using (runner)
        {
            for (var i = 0; i < 4; i++)
                await runner.CollectOnceAsync(CancellationToken.None);
            Assert.NotNull(await runner.Sender!.SendOnceAsync(CancellationToken.None));
            Assert.Contains("401", runner.Health.LastError, StringComparison.Ordinal);
            Assert.Equal(4, runner.Spool.Count);
            Assert.Null(await runner.Sender.SendOnceAsync(CancellationToken.None)); // 413: halve
            Assert.Null(await runner.Sender.SendOnceAsync(CancellationToken.None));
            Assert.Equal(2, runner.Spool.Count);
            Assert.Null(await runner.Sender.SendOnceAsync(CancellationToken.None));
            Assert.Equal(0, runner.Spool.Count);
        }

        Assert.Equal([4, 4, 2, 2], receiver.Requests.Select(r => JsonDocument.Parse(r.Body).RootElement.GetArrayLength()));
    }

    [Fact]
    public async Task UnreachableReceiver_NeverThrows_BacksOffExponentially()
    {
        var (runner, _) = Runner(int.Parse(Sentinel.TestSupport.TestServers.ClosedPort().Split(':')[1], System.Globalization.CultureInfo.InvariantCulture));
        using (runner)
        {
            await runner.CollectOnceAsync(CancellationToken.None);
            var waits = new List<TimeSpan>();
            for (var i = 0; i < 6; i++)
                waits.Add((await runner.Sender!.SendOnceAsync(CancellationToken.None))!.Value);
            Assert.All(waits, w => Assert.InRange(w, TimeSpan.FromSeconds(1), EventHubsSender.MaxBackoff));
            Assert.True(waits[5] > waits[0] * 4, string.Join(", ", waits)); // 2^6 · [0.5, 1] against 2 · [0.5, 1]
            Assert.Equal(1, runner.Spool.Count);
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Install_WritesAPrivateConfigAndAHardenedUnit()
    {
        var root = Path.Combine(_dir, "root");
        var output = new StringWriter();
        var code = Installer.Run(["--agent", "agent1", "--key-version", "2", "--key", AgentSignature.EncodeKey(new byte[32]), "--hub", "agent-metrics",
            "--connection", $"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=agent-send;SharedAccessKey={EventHubKey}",
            "--probe", "n8n=http://127.0.0.1:5678/healthz", "--probe", "postgres=127.0.0.1:5432",
            "--config", Path.Combine(root, "etc/agent.json"), "--unit-dir", Path.Combine(root, "systemd"), "--bin-dir", Path.Combine(root, "bin"),
            "--spool-dir", Path.Combine(root, "spool"), "--no-start"], output);

        Assert.Equal(0, code);
        var configPath = Path.Combine(root, "etc/agent.json");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(configPath));
        var config = AgentConfig.Load(configPath, _ => null);
        Assert.Equal(("agent1", 2, 2), (config.AgentId, config.KeyVersion, config.Probes.Count));
        Assert.Null(config.Validate());
        var unit = File.ReadAllText(Path.Combine(root, "systemd", Installer.UnitName));
        Assert.Contains($"ExecStart={Path.Combine(root, "bin", "sentinel-agent")} run --config {configPath}", unit, StringComparison.Ordinal);
        Assert.Contains("Restart=always", unit, StringComparison.Ordinal);
        Assert.Contains("ProtectSystem=strict", unit, StringComparison.Ordinal);

        var bad = Installer.Run(["--agent", "agent1", "--key", "short", "--config", Path.Combine(root, "bad.json"), "--no-start"], new StringWriter());
        Assert.Equal(2, bad);
        Assert.False(File.Exists(Path.Combine(root, "bad.json")));
    }

    [Fact]
    public async Task ManagedIdentity_TokenFromInstanceMetadata_CachedAcrossSends()
    {
        var expires = TimeProvider.System.GetUtcNow().AddHours(1).ToUnixTimeSeconds();
        using var imds = new Receiver(_ => (200, null), $$"""{"access_token":"entra-token-1","expires_on":"{{expires}}","resource":"https://eventhubs.azure.net/"}""");
        using var hub = new Receiver(_ => (201, null));
        var config = new AgentConfig
        {
            AgentId = "agent1", Key = AgentSignature.EncodeKey(new byte[32]), KeyVersion = 1, Hub = "agent-metrics", SpoolDirectory = _dir,
            ManagedIdentity = true, ManagedIdentityClientId = "11111111-2222-3333-4444-555555555555",
            ImdsEndpoint = $"http://127.0.0.1:{imds.Port}/metadata/identity/oauth2/token", Endpoint = $"http://127.0.0.1:{hub.Port}/",
        };
        Assert.Null(config.Validate());
        using (var runner = new AgentRunner(config, TimeProvider.System, _ => { }))
        {
            for (var i = 0; i < 2; i++)
            {
                await runner.CollectOnceAsync(CancellationToken.None);
                Assert.Null(await runner.Sender!.SendOnceAsync(CancellationToken.None));
            }
        }

        Assert.Equal(["Bearer entra-token-1", "Bearer entra-token-1"], hub.Requests.Select(r => r.Authorization));
        var (path, metadata, _, _) = Assert.Single(imds.Requests); // cached: asked once
        Assert.Equal("true", metadata);
        Assert.Contains("resource=https%3A%2F%2Feventhubs.azure.net%2F", path, StringComparison.Ordinal);
        Assert.Contains("client_id=11111111-2222-3333-4444-555555555555", path, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ManagedIdentity_MetadataServiceDown_IsARetryNotACrash()
    {
        using var imds = new Receiver(_ => (500, null));
        var config = new AgentConfig
        {
            AgentId = "agent1", Key = AgentSignature.EncodeKey(new byte[32]), KeyVersion = 1, Hub = "agent-metrics", SpoolDirectory = _dir,
            ManagedIdentity = true, ImdsEndpoint = $"http://127.0.0.1:{imds.Port}/token", Endpoint = "http://127.0.0.1:1/",
        };
        using var runner = new AgentRunner(config, TimeProvider.System, _ => { });
        await runner.CollectOnceAsync(CancellationToken.None);
        Assert.NotNull(await runner.Sender!.SendOnceAsync(CancellationToken.None));
        Assert.Contains("metadata", runner.Health.LastError, StringComparison.Ordinal);
        Assert.Equal(1, runner.Spool.Count);
    }

    [Fact]
    public void Environment_OverridesTheFile()
    {
        var path = Path.Combine(_dir, "agent.json");
        File.WriteAllText(path, """{ "agentId": "fromfile", "intervalSeconds": 10, "hub": "h1" }""");
        var env = new Dictionary<string, string> { ["SENTINEL_AGENT_INTERVAL_SECONDS"] = "15", ["SENTINEL_AGENT_AGENT_ID"] = "fromenv" };
        var config = AgentConfig.Load(path, k => env.GetValueOrDefault(k));
        Assert.Equal(("fromenv", 15, "h1"), (config.AgentId, config.IntervalSeconds, config.Hub));
    }
}
