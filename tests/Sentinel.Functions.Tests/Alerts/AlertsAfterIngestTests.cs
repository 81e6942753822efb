using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Sentinel.Agent;
using Sentinel.Functions.CustomHandler;
using Sentinel.Functions.Functions;
using Sentinel.Functions.Hosting;
using Sentinel.Functions.Tests.Gateway;

namespace Sentinel.Functions.Tests.Alerts;

/// <summary>A real agent's batch through the standalone Event Hubs endpoint and the ingest function raises an alert in
/// the same invocation — with the minute timer replaced by a recorder, so nothing else could have evaluated.</summary>
public sealed class AlertsAfterIngestTests
{
    [Fact]
    public async Task AStoredBatch_IsEvaluatedByTheRulesOnItsMetrics_Immediately()
    {
        var timer = new RecordingTimerFunction();
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone,
            services => services.AddKeyedSingleton<ITimerFunction>(FunctionRegistry.AlertsAbsent, timer));
        var (token, _, _, _) = await host.Client.SignupAsync();
        var auth = GatewayClient.Bearer(token);
        var (status, rule, _) = await host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules", new
        {
            name = "Any memory", metric = "mem.used_percent", aggregation = "last", window = "1m", op = ">=", threshold = 0,
            @for = "0s", severity = "info",
        }, auth);
        Assert.Equal(HttpStatusCode.Created, status);
        var (_, agent, _) = await host.Client.SendAsync(HttpMethod.Post, "/api/agents", new { name = "web-1" }, auth);
        var config = new AgentConfig
        {
            AgentId = agent.GetProperty("agent").GetProperty("id").GetString()!,
            Key = agent.GetProperty("key").GetString()!,
            KeyVersion = 1,
            Connection = $"Endpoint=sb://127.0.0.1:{host.BaseAddress.Port}/;SharedAccessKeyName=agent-send;SharedAccessKey={SentinelTestHost.EventHubKey}",
            Hub = "agent-metrics",
            IntervalSeconds = 10,
            SpoolDirectory = Directory.CreateTempSubdirectory("agent-spool-").FullName,
            HostName = "web-1",
        };

        using (var runner = new AgentRunner(config, TimeProvider.System, _ => { }))
        {
            await runner.CollectOnceAsync(CancellationToken.None);
            Assert.Null(await runner.Sender!.SendOnceAsync(CancellationToken.None));
        }

        // The ingest invocation evaluates before it answers; allow the emulator's hand-off a moment.
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        System.Text.Json.JsonElement alerts;
        do
        {
            (_, alerts, _) = await host.Client.SendAsync(HttpMethod.Get, "/api/alerts?state=firing", null, auth);
            if (alerts.GetProperty("alerts").GetArrayLength() > 0)
                break;
            await Task.Delay(50);
        }
        while (deadline.Elapsed < TimeSpan.FromSeconds(10));

        var firing = Assert.Single(alerts.GetProperty("alerts").EnumerateArray());
        Assert.Equal(rule.GetProperty("id").GetString(), firing.GetProperty("ruleId").GetString());
        Assert.Empty(timer.Calls);
    }
}
