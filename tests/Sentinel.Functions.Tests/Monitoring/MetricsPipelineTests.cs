using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Sentinel.Agent;
using Sentinel.Contracts.Metrics;
using Sentinel.Functions.Hosting;
using Sentinel.Functions.Standalone;
using Sentinel.Functions.Tests.Gateway;
using Sentinel.TestSupport;

namespace Sentinel.Functions.Tests.Monitoring;

/// <summary>
/// The whole pipeline over real processes on loopback: sentinel-agent → the standalone host's Event Hubs REST endpoint →
/// the ingest function → PostgreSQL, through a receiver outage, a PostgreSQL outage, and host redeliveries.
/// </summary>
public sealed class MetricsPipelineTests
{
    private static async Task<(string Id, string Key)> RegisterAsync(SentinelTestHost host, string token, string name)
    {
        var (status, body, _) = await host.Client.SendAsync(HttpMethod.Post, "/api/agents", new { name }, GatewayClient.Bearer(token));
        Assert.Equal(HttpStatusCode.Created, status);
        return (body.GetProperty("agent").GetProperty("id").GetString()!, body.GetProperty("key").GetString()!);
    }

    private static AgentConfig Config(string id, string key, int port, string spool) => new()
    {
        AgentId = id,
        Key = key,
        KeyVersion = 1,
        Connection = $"Endpoint=sb://127.0.0.1:{port}/;SharedAccessKeyName=agent-send;SharedAccessKey={SentinelTestHost.EventHubKey}",
        Hub = "agent-metrics",
        IntervalSeconds = 10,
        SpoolDirectory = spool,
        HostName = "web-1",
    };

    private static async Task DrainAsync(AgentRunner runner)
    {
        for (var i = 0; i < 50 && runner.Spool.Count > 0; i++)
            Assert.Null(await runner.Sender!.SendOnceAsync(CancellationToken.None));
        Assert.Equal(0, runner.Spool.Count);
    }

    private static async Task<List<long>> StoredSeqsAsync(TestDatabase db, string agent)
    {
        await using var command = db.DataSource.CreateCommand("select seq from metric_batches where agent_id = $1 order by seq");
        command.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = agent });
        var list = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            list.Add(reader.GetInt64(0));
        return list;
    }

    [Fact]
    public async Task Agent_ThroughAFiveMinuteReceiverOutage_EveryBatchStoredOnceInOrder_AndQueryable()
    {
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone);
        var (token, _, _, _) = await host.Client.SignupAsync();
        var (id, key) = await RegisterAsync(host, token, "web-1");
        await using var gate = TcpGate.Start(new IPEndPoint(IPAddress.Loopback, host.BaseAddress.Port));
        var spool = Directory.CreateTempSubdirectory("agent-spool-").FullName;
        // The agent's clock: its 31 batches span 5 minutes ending about now, so every signature (taken at send time on
        // this clock) stays inside the 5-minute skew window against the host's real enqueue time.
        var clock = new ManualClock(TimeProvider.System.GetUtcNow() - TimeSpan.FromSeconds(270));
        var messages = new List<string>();
        using (var runner = new AgentRunner(Config(id, key, gate.Port, spool), clock, m => { lock (messages) messages.Add(m); }))
        {
            await runner.CollectOnceAsync(CancellationToken.None);
            await DrainAsync(runner);

            gate.Close(); // the receiver is down for 5 minutes: 30 collections at 10 s
            for (var i = 0; i < 30; i++)
            {
                clock.Advance(TimeSpan.FromSeconds(10));
                await runner.CollectOnceAsync(CancellationToken.None);
                if (i % 10 == 0)
                {
                    var wait = await runner.Sender!.SendOnceAsync(CancellationToken.None);
                    Assert.NotNull(wait); // failed: back off, keep everything
                    Assert.True(wait >= TimeSpan.FromSeconds(1));
                }
            }

            Assert.Equal(30, runner.Spool.Count);
            Assert.True(runner.Health.SendErrors >= 3);
            gate.Open();
            await DrainAsync(runner);
            Assert.Equal(31, runner.Health.Sent);
        }

        var db = host.Database!;
        Assert.Equal(Enumerable.Range(1, 31).Select(i => (long)i), await StoredSeqsAsync(db, id));
        Assert.Equal(0, await db.ScalarAsync("select count(*) from rejected_events"));
        // In order: each batch's collection time is 10 s after the one before it.
        Assert.Equal(30, await db.ScalarAsync($"select count(*) from (select collected_at - lag(collected_at) over (order by seq) as d from metric_batches where agent_id = '{id}') x where d = interval '10 seconds'"));

        var (_, health, _) = await host.Client.SendAsync(HttpMethod.Get, "/api/health");
        var ingest = health.GetProperty("ingest");
        Assert.Equal(31, ingest.GetProperty("batches").GetInt64());
        Assert.Equal(0, ingest.GetProperty("rejected").GetInt64());
        Assert.True(ingest.GetProperty("samples").GetInt64() > 31 * 20);
        Assert.NotEqual(JsonValueKind.Null, ingest.GetProperty("lastStoredAt").ValueKind);

        var (_, agents, _) = await host.Client.SendAsync(HttpMethod.Get, "/api/agents", null, GatewayClient.Bearer(token));
        var agent = Assert.Single(agents.GetProperty("agents").EnumerateArray());
        Assert.Equal("online", agent.GetProperty("status").GetString());
        Assert.Equal(31, agent.GetProperty("lastSeq").GetInt64());
        Assert.Equal("web-1", agent.GetProperty("host").GetString());
        Assert.Equal(AgentRunner.Version, agent.GetProperty("agentVersion").GetString());

        var (status, query, _) = await host.Client.SendAsync(HttpMethod.Get,
            $"/api/metrics/query?metric=cpu.usage&agent={id}&match=core%3Dtotal&from={Uri.EscapeDataString(clock.GetUtcNow().AddMinutes(-6).ToString("O", CultureInfo.InvariantCulture))}&step=60",
            null, GatewayClient.Bearer(token));
        Assert.Equal(HttpStatusCode.OK, status);
        var series = Assert.Single(query.GetProperty("series").EnumerateArray());
        Assert.InRange(series.GetProperty("points").GetArrayLength(), 5, 7);
        Directory.Delete(spool, recursive: true);
    }

    [Fact]
    public async Task PostgresStoppedMidIngest_SendsFailNon2xx_AfterRestartEverythingStoredOnce()
    {
        await using var pg = await PostgresProcess.StartAsync();
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone, settings: new Dictionary<string, string>
        {
            ["ConnectionStrings:Postgres"] = pg.ConnectionString,
        });
        await host.Services.GetRequiredService<Sentinel.Core.Storage.PostgresMigrator>().MigrateAsync(CancellationToken.None);
        var (token, _, _, _) = await host.Client.SignupAsync();
        var (id, key) = await RegisterAsync(host, token, "db-1");
        var spool = Directory.CreateTempSubdirectory("agent-spool-").FullName;
        using var runner = new AgentRunner(Config(id, key, host.BaseAddress.Port, spool), TimeProvider.System, _ => { });

        for (var i = 0; i < 3; i++)
            await runner.CollectOnceAsync(CancellationToken.None);
        await DrainAsync(runner);

        await pg.StopAsync();
        for (var i = 0; i < 3; i++)
            await runner.CollectOnceAsync(CancellationToken.None);
        var wait = await runner.Sender!.SendOnceAsync(CancellationToken.None);
        Assert.True(wait >= EventHubsSender.ServerBusyFloor, $"a 503 from the ingest path backs off at least 4 s, was {wait}");
        Assert.Contains("503", runner.Health.LastError, StringComparison.Ordinal);
        Assert.Equal(3, runner.Spool.Count);

        await pg.StartAgainAsync();
        await DrainAsync(runner);

        await using var data = Npgsql.NpgsqlDataSource.Create(pg.ConnectionString);
        await using var command = data.CreateCommand($"select count(*), count(distinct seq), min(seq), max(seq) from metric_batches where agent_id = '{id}'");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal((6L, 6L, 1L, 6L), (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)));
        Directory.Delete(spool, recursive: true);
    }

    [Fact]
    public async Task HostRedeliversTheSameInvocationThreeTimes_StoredOnce_AndForgeriesAreRejectedNot500()
    {
        await using var host = await SentinelTestHost.StartAsync(HostMode.Functions);
        var (token, _, _, _) = await host.Client.SignupAsync();
        var (id, key) = await RegisterAsync(host, token, "web-9");
        Assert.True(AgentSignature.TryDecodeKey(key, out var k));
        var now = TimeProvider.System.GetUtcNow();
        var body = JsonSerializer.Serialize(new MetricBatch(1, id, 1, "web-9", now, 10,
            [new MetricSample("cpu.usage", new Dictionary<string, string> { ["core"] = "total" }, 42)]), MetricsJsonContext.Default.MetricBatch);
        var ts = now.ToUnixTimeSeconds();

        AcceptedEvent Event(string text, string signature, long sequence) => new(text, sequence, sequence * 100, now, id, new Dictionary<string, JsonElement>
        {
            [AgentSignature.AgentProperty] = JsonSerializer.SerializeToElement(id),
            [AgentSignature.KeyVersionProperty] = JsonSerializer.SerializeToElement("1"),
            [AgentSignature.TimestampProperty] = JsonSerializer.SerializeToElement(ts.ToString(CultureInfo.InvariantCulture)),
            [AgentSignature.SignatureProperty] = JsonSerializer.SerializeToElement(signature),
        });
        var good = Event(body, AgentSignature.Sign(k, id, 1, ts, Encoding.UTF8.GetBytes(body)), 7);
        var payload = HostPayloads.EventHubBatch("ingest-metrics", "events", "ns.servicebus.windows.net", "agent-metrics", "ingest", "0", [good], now);

        for (var i = 0; i < 3; i++)
        {
            using var response = await host.Client.PostAsync(new Uri("/ingest-metrics", UriKind.Relative), new ByteArrayContent(payload));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var forged = Event(body.Replace("42", "43", StringComparison.Ordinal), good.Properties[AgentSignature.SignatureProperty].GetString()!, 8);
        var forgedPayload = HostPayloads.EventHubBatch("ingest-metrics", "events", "ns.servicebus.windows.net", "agent-metrics", "ingest", "0", [forged], now);
        using (var response = await host.Client.PostAsync(new Uri("/ingest-metrics", UriKind.Relative), new ByteArrayContent(forgedPayload)))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode); // acknowledged: a forgery will not get better on retry

        Assert.Equal([1L], await StoredSeqsAsync(host.Database!, id));
        Assert.Equal(1, await host.Database!.ScalarAsync("select count(*) from metric_samples"));
        Assert.Equal(1, await host.Database!.ScalarAsync("select count(*) from rejected_events where reason like 'forged%'"));
    }
}
