using System.Diagnostics;
using System.Net;
using Sentinel.Functions.Hosting;
using Sentinel.Functions.Tests.Gateway;

namespace Sentinel.Functions.Tests.Monitoring;

/// <summary>The published, trimmed, self-contained sentinel-agent (make agent) as a real process against the standalone host.</summary>
public sealed class PublishedAgentTests
{
    [Fact]
    public async Task TrimmedSingleFileAgent_RunsSendsAndStopsCleanlyOnSigterm()
    {
        var binary = Environment.GetEnvironmentVariable("SENTINEL_AGENT_BINARY");
        Assert.False(string.IsNullOrEmpty(binary), "SENTINEL_AGENT_BINARY is not set: run 'make test', which runs 'make agent' first.");
        Assert.True(File.Exists(binary), $"{binary} does not exist");

        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone);
        var (token, _, _, _) = await host.Client.SignupAsync();
        var (status, created, _) = await host.Client.SendAsync(HttpMethod.Post, "/api/agents", new { name = "real-1" }, GatewayClient.Bearer(token));
        Assert.Equal(HttpStatusCode.Created, status);
        var id = created.GetProperty("agent").GetProperty("id").GetString()!;
        var spool = Directory.CreateTempSubdirectory("agent-published-").FullName;

        var info = new ProcessStartInfo(binary!, "run") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.Environment["SENTINEL_AGENT_CONFIG"] = Path.Combine(spool, "absent.json");
        info.Environment["SENTINEL_AGENT_AGENT_ID"] = id;
        info.Environment["SENTINEL_AGENT_KEY"] = created.GetProperty("key").GetString()!;
        info.Environment["SENTINEL_AGENT_KEY_VERSION"] = "1";
        info.Environment["SENTINEL_AGENT_CONNECTION"] = $"Endpoint=sb://127.0.0.1:{host.BaseAddress.Port}/;SharedAccessKeyName=agent-send;SharedAccessKey={SentinelTestHost.EventHubKey}";
        info.Environment["SENTINEL_AGENT_INTERVAL_SECONDS"] = "1";
        info.Environment["SENTINEL_AGENT_SPOOL_DIRECTORY"] = spool;
        using var agent = Process.Start(info)!;
        var stderr = agent.StandardError.ReadToEndAsync();
        try
        {
            var waited = Stopwatch.StartNew();
            while (await host.Database!.ScalarAsync($"select count(*) from metric_batches where agent_id = '{id}'") < 3 && waited.Elapsed < TimeSpan.FromSeconds(30))
                await Task.Delay(200);
            Assert.True(await host.Database!.ScalarAsync($"select count(*) from metric_batches where agent_id = '{id}'") >= 3, "the agent stored fewer than 3 batches in 30 s");
            Assert.True(await host.Database!.ScalarAsync($"select count(*) from metric_series where agent_id = '{id}' and name = 'agent.rss_bytes'") == 1);

            using (var term = Process.Start("kill", ["-TERM", agent.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await term.WaitForExitAsync();
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await agent.WaitForExitAsync(exit.Token);
            Assert.Equal(0, agent.ExitCode);
            Assert.Contains("sentinel-agent stopped", await stderr, StringComparison.Ordinal);
        }
        finally
        {
            if (!agent.HasExited)
                agent.Kill();
            Directory.Delete(spool, recursive: true);
        }
    }
}
