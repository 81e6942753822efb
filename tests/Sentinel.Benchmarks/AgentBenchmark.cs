using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace Sentinel.Benchmarks;

/// <summary>
/// The agent's footprint: the published sentinel-agent (trimmed, single-file) collecting every 10 s and sending to the
/// standalone host, beside Debian's prometheus-node-exporter (default collectors) scraped every 10 s — both for the same
/// 2 minutes on the same machine. CPU % of one core from utime+stime in /proc/{pid}/stat over the window; RSS from
/// VmRSS sampled every second (peak and mean). Goals: agent CPU no higher than node_exporter's; agent RSS ≤ 30 MB.
/// </summary>
internal static class AgentBenchmark
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(2);
    private const string NodeExporter = "/usr/bin/prometheus-node-exporter";

    public static async Task RunAsync(string agentBinary, string handlerDll)
    {
        if (!File.Exists(agentBinary))
            throw new FileNotFoundException($"{agentBinary} is missing: make agent builds it.");
        if (!File.Exists(NodeExporter))
            throw new FileNotFoundException($"{NodeExporter} is missing: .ci/stack install-bench installs it.");

        var spool = Directory.CreateTempSubdirectory("sentinel-bench-spool-");
        var handler = await Bench.StartHandlerAsync(handlerDll, migrate: true);
        Process? agent = null;
        Process? exporter = null;
        try
        {
            using var client = new HttpClient { BaseAddress = handler.Root };
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Bearer " + await handler.SignupAsync());
            using var register = await client.PostAsJsonAsync("/api/agents", new { name = "bench-agent" });
            register.EnsureSuccessStatusCode();
            var created = JsonDocument.Parse(await register.Content.ReadAsStringAsync()).RootElement;

            agent = Bench.Start(agentBinary, ["run"], new Dictionary<string, string>
            {
                ["SENTINEL_AGENT_CONFIG"] = Path.Combine(spool.FullName, "absent.json"),
                ["SENTINEL_AGENT_AGENT_ID"] = created.GetProperty("agent").GetProperty("id").GetString()!,
                ["SENTINEL_AGENT_KEY"] = created.GetProperty("key").GetString()!,
                ["SENTINEL_AGENT_KEY_VERSION"] = "1",
                ["SENTINEL_AGENT_CONNECTION"] = $"Endpoint=sb://127.0.0.1:{handler.Root.Port}/;SharedAccessKeyName=agent-send;SharedAccessKey={Bench.EventHubKey}",
                ["SENTINEL_AGENT_INTERVAL_SECONDS"] = ((int)Interval.TotalSeconds).ToString(CultureInfo.InvariantCulture),
                ["SENTINEL_AGENT_SPOOL_DIRECTORY"] = spool.FullName,
            });
            var exporterPort = Bench.FreePort();
            exporter = Bench.Start(NodeExporter, [$"--web.listen-address=127.0.0.1:{exporterPort}"]);
            var metricsUri = new Uri($"http://127.0.0.1:{exporterPort}/metrics");
            await Bench.WaitForAsync(metricsUri, TimeSpan.FromSeconds(30));
            await Task.Delay(TimeSpan.FromSeconds(2)); // both past start-up; the window measures the steady state

            var agentCpu0 = CpuSeconds(agent.Id);
            var exporterCpu0 = CpuSeconds(exporter.Id);
            var agentRss = new List<double>();
            var exporterRss = new List<double>();
            using var scraper = new HttpClient();
            var watch = Stopwatch.StartNew();
            var nextScrape = TimeSpan.Zero;
            var scrapes = 0;
            while (watch.Elapsed < Window)
            {
                if (watch.Elapsed >= nextScrape)
                {
                    _ = await scraper.GetStringAsync(metricsUri);
                    scrapes++;
                    nextScrape += Interval;
                }

                agentRss.Add(RssMb(agent.Id));
                exporterRss.Add(RssMb(exporter.Id));
                await Task.Delay(TimeSpan.FromSeconds(1));
            }

            var seconds = watch.Elapsed.TotalSeconds;
            var agentCpu = (CpuSeconds(agent.Id) - agentCpu0) / seconds * 100;
            var exporterCpu = (CpuSeconds(exporter.Id) - exporterCpu0) / seconds * 100;
            var list = JsonDocument.Parse(await client.GetStringAsync("/api/agents")).RootElement;
            var lastSeq = list.GetProperty("agents")[0].GetProperty("lastSeq");

            Console.WriteLine($"agent: {Window.TotalMinutes:0} min at a {Interval.TotalSeconds:0} s interval, same machine, same window (node_exporter scraped {scrapes} times):");
            Console.WriteLine($"  {"",-44} {"CPU %",8} {"RSS peak MB",12} {"RSS mean MB",12}");
            Console.WriteLine($"  {"sentinel-agent (trimmed single-file)",-44} {agentCpu,8:F3} {agentRss.Max(),12:F1} {agentRss.Average(),12:F1}");
            Console.WriteLine($"  {"prometheus-node-exporter (baseline)",-44} {exporterCpu,8:F3} {exporterRss.Max(),12:F1} {exporterRss.Average(),12:F1}");
            Console.WriteLine($"  batches stored from the agent: last seq {lastSeq}");
            // utime/stime count 1/100 s ticks: over the window one tick is this many percent of a core.
            Console.WriteLine($"  CPU resolution: one clock tick = {1.0 / seconds:F4} % of a core over the window");
            Console.WriteLine($"  ratio CPU agent/node_exporter: {agentCpu / exporterCpu:F2}   goal <= 1.00 -> {(agentCpu <= exporterCpu ? "met" : "NOT met")}");
            Console.WriteLine($"  agent RSS peak {agentRss.Max():F1} MB (node_exporter {exporterRss.Max():F1} MB, ratio {agentRss.Max() / exporterRss.Max():F2})   goal <= 30 MB -> {(agentRss.Max() <= 30 ? "met" : "NOT met")}");
            Console.WriteLine();
        }
        finally
        {
            if (agent is not null)
                await Bench.StopAsync(agent);
            if (exporter is not null)
                await Bench.StopAsync(exporter);
            await handler.DisposeAsync();
            spool.Delete(recursive: true);
        }
    }

    /// <summary>utime + stime of a process, in seconds (fields 14 and 15 of /proc/{pid}/stat, in clock ticks of 1/100 s).</summary>
    private static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    private static double RssMb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }

        return double.NaN;
    }
}
