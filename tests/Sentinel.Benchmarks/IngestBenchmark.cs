using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NpgsqlTypes;
using Sentinel.Contracts.Metrics;
using Sentinel.Core.Alerts;
using Sentinel.Core.Identity;
using Sentinel.Core.Monitoring;
using Sentinel.Core.Storage;
using Sentinel.Functions.CustomHandler;
using Sentinel.Functions.Functions;
using Sentinel.Functions.Hosting;
using Sentinel.Functions.Standalone;

namespace Sentinel.Benchmarks;

/// <summary>
/// Ingest throughput, samples/s from the invocation payload the Functions host sends (double-encoded batch of signed
/// events) to committed rows — parse, verify each signature, ledger, series catalogue, COPY, agent update, commit —
/// through the app's own dispatcher, against a raw binary COPY of the same rows into the same table (one transaction
/// per invocation-worth of rows). Both write into the same partitioned table of a fresh database, interleaved by round.
/// Goal: ingest ≥ 0.6 of raw COPY. Also, in the same rounds, the same ingest for a tenant with alert rules on the
/// metrics it sends (evaluated by the ingest invocation): goal ≥ 0.9 of ingest without rules.
/// </summary>
internal static class IngestBenchmark
{
    private const int Agents = 100;
    private const int EventsPerInvocation = 100;   // the host's default maxEventBatchSize
    private const int InvocationsPerRound = 20;
    private const int Rounds = 5;

    public static async Task RunAsync()
    {
        // One partition (invocations one after another) and two (the host runs partitions concurrently; the hub has 4).
        foreach (var partitions in new[] { 1, 2 })
            await RunOnceAsync(partitions);
    }

    private static async Task RunOnceAsync(int partitions)
    {
        var admin = new NpgsqlConnectionStringBuilder(Bench.Env("ConnectionStrings__Postgres"));
        var name = "bench_ingest_" + Guid.NewGuid().ToString("N")[..8];
        await using (var create = NpgsqlDataSource.Create(admin.ConnectionString))
            await create.CreateCommand($"create database {name}").ExecuteNonQueryAsync();
        admin.Database = name;
        var keys = Directory.CreateTempSubdirectory("sentinel-bench-keys-");
        try
        {
            await RunOnAsync(admin.ConnectionString, keys.FullName, partitions);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            admin.Database = "postgres";
            await using var drop = NpgsqlDataSource.Create(admin.ConnectionString);
            await drop.CreateCommand($"drop database if exists {name} with (force)").ExecuteNonQueryAsync();
            keys.Delete(recursive: true);
        }
    }

    private static async Task RunOnAsync(string connectionString, string keyDirectory, int partitions)
    {
        var app = SentinelApp.Build(HostMode.Functions, ["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration["ConnectionStrings:Postgres"] = connectionString;
            builder.Configuration["Identity:SigningKeyDirectory"] = keyDirectory;
            builder.Configuration["Monitoring:AgentKeySecret"] = "bench-agent-master-secret-0123456789abcdef";
            builder.Configuration["RequestLog:Enabled"] = "false";
            builder.Configuration["Logging:LogLevel:Default"] = "Warning";
        });
        await using var _ = app;
        var services = app.Services;
        await services.GetRequiredService<PostgresMigrator>().MigrateAsync(CancellationToken.None);
        var registry = services.GetRequiredService<AgentRegistry>();
        var dispatcher = services.GetRequiredService<InvocationDispatcher>();
        var data = services.GetRequiredService<NpgsqlDataSource>();
        var function = FunctionRegistry.Find(FunctionRegistry.IngestMetrics)!;
        var owner = new Principal(false, "bench", "owner", Role.Owner, []);
        var agents = new List<AgentCredential>();
        for (var i = 0; i < Agents; i++)
            agents.Add((await registry.RegisterAsync(owner, "server-" + i, CancellationToken.None)).Value!);

        // A second tenant with the same fleet, the built-in alert rules and three of its own: its ingest evaluates the
        // rules its batches touch (the issue's cost goal); the first tenant has no rule. Same payload shapes, interleaved.
        var ruledOwner = new Principal(false, "bench-rules", "owner", Role.Owner, []);
        var ruledAgents = new List<AgentCredential>();
        for (var i = 0; i < Agents; i++)
            ruledAgents.Add((await registry.RegisterAsync(ruledOwner, "server-" + i, CancellationToken.None)).Value!);
        var alertStore = services.GetRequiredService<AlertStore>();
        await alertStore.EnsureBuiltinsAsync(ruledOwner.TenantId, CancellationToken.None);
        foreach (var (ruleName, metric) in new[] { ("Disk busy", "disk.busy_percent"), ("Load", "load.1"), ("Connections", "tcp.connections") })
        {
            var created = await alertStore.CreateAsync(ruledOwner.TenantId,
                new AlertRuleDraft(ruleName, metric, null, "avg", "1m", ">", 95, "2m", null, "warning", null, null, null), CancellationToken.None);
            if (!created.Succeeded)
                throw new InvalidOperationException(created.Failure!.Detail);
        }

        var ruleCount = (await alertStore.ListAsync(ruledOwner.TenantId, CancellationToken.None)).Count;
        var seq = new long[Agents];
        var ruledSeq = new long[Agents];
        var ingestRates = new List<double>();
        var ruledRates = new List<double>();
        var copyRates = new List<double>();
        var samplesPerEvent = Samples(0, 1).Count;

        List<byte[]> Payloads(List<AgentCredential> fleet, long[] seqs)
        {
            var payloads = new List<byte[]>();
            for (var inv = 0; inv < InvocationsPerRound; inv++)
            {
                var now = TimeProvider.System.GetUtcNow();
                var events = new List<AcceptedEvent>();
                for (var e = 0; e < EventsPerInvocation; e++)
                {
                    var a = (inv * EventsPerInvocation + e) % Agents;
                    var batch = new MetricBatch(1, fleet[a].Agent.Id, ++seqs[a], "server-" + a, now, 10, Samples(a, seqs[a]));
                    var body = JsonSerializer.Serialize(batch, MetricsJsonContext.Default.MetricBatch);
                    AgentSignature.TryDecodeKey(fleet[a].Key, out var key);
                    var ts = now.ToUnixTimeSeconds();
                    events.Add(new AcceptedEvent(body, e, e, now, fleet[a].Agent.Id, new Dictionary<string, JsonElement>
                    {
                        [AgentSignature.AgentProperty] = JsonSerializer.SerializeToElement(fleet[a].Agent.Id, BenchJson.Default.String),
                        [AgentSignature.KeyVersionProperty] = JsonSerializer.SerializeToElement("1", BenchJson.Default.String),
                        [AgentSignature.TimestampProperty] = JsonSerializer.SerializeToElement(ts.ToString(CultureInfo.InvariantCulture), BenchJson.Default.String),
                        [AgentSignature.SignatureProperty] = JsonSerializer.SerializeToElement(AgentSignature.Sign(key, fleet[a].Agent.Id, 1, ts, Encoding.UTF8.GetBytes(body)), BenchJson.Default.String),
                    }));
                }

                payloads.Add(HostPayloads.EventHubBatch(function.Name, "events", "bench.servicebus.windows.net", "agent-metrics", "ingest", "0", events, now));
            }

            return payloads;
        }

        async Task<double> IngestSecondsAsync(List<byte[]> payloads)
        {
            var watch = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, partitions).Select(async p =>
            {
                for (var i = p; i < payloads.Count; i += partitions)
                {
                    var outcome = await dispatcher.DispatchAsync(function, payloads[i], Guid.NewGuid().ToString(), CancellationToken.None);
                    if (outcome.StatusCode != 200)
                        throw new InvalidOperationException("ingest failed: " + Encoding.UTF8.GetString(outcome.Body));
                }
            }));
            return watch.Elapsed.TotalSeconds;
        }

        for (var round = -1; round < Rounds; round++) // round -1 warms up: series created, caches and JIT warm
        {
            var plain = Payloads(agents, seq);
            var ruled = Payloads(ruledAgents, ruledSeq);
            // Alternate which goes first, so neither always meets the other's autovacuum or checkpoint.
            double ingestSeconds, ruledSeconds;
            if (round % 2 == 0)
            {
                ingestSeconds = await IngestSecondsAsync(plain);
                ruledSeconds = await IngestSecondsAsync(ruled);
            }
            else
            {
                ruledSeconds = await IngestSecondsAsync(ruled);
                ingestSeconds = await IngestSecondsAsync(plain);
            }

            var samples = (long)InvocationsPerRound * EventsPerInvocation * samplesPerEvent;

            // The same rows again, as a raw binary COPY per invocation-worth (series ids already known, no checks).
            var ids = await SeriesIdsAsync(data);
            var copyRows = new List<(long, DateTimeOffset, double)[]>();
            for (var inv = 0; inv < InvocationsPerRound; inv++)
            {
                var now = TimeProvider.System.GetUtcNow();
                var list = new List<(long, DateTimeOffset, double)>();
                for (var e = 0; e < EventsPerInvocation; e++)
                {
                    var a = (inv * EventsPerInvocation + e) % Agents;
                    foreach (var s in Samples(a, seq[a]))
                        list.Add((ids[SeriesKey.Of(agents[a].Agent.Id, s)], now, s.Value));
                }

                copyRows.Add([.. list]);
            }

            var copyWatch = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, partitions).Select(p => CopyAsync(data, copyRows.Where((_, i) => i % partitions == p))));
            var copySeconds = copyWatch.Elapsed.TotalSeconds;
            if (round < 0)
                continue;
            ingestRates.Add(samples / ingestSeconds);
            ruledRates.Add(samples / ruledSeconds);
            copyRates.Add(samples / copySeconds);
        }

        var ingest = Bench.Median(ingestRates);
        var withRules = Bench.Median(ruledRates);
        var copy = Bench.Median(copyRates);
        Console.WriteLine($"ingest, {partitions} partition(s) in parallel: {Agents} agents, {InvocationsPerRound} invocations x {EventsPerInvocation} events x {samplesPerEvent} samples per round, median of {Rounds} interleaved rounds:");
        Console.WriteLine($"  ingest-metrics (payload -> verified -> committed): {ingest,10:N0} samples/s  [{ingestRates.Min():N0}..{ingestRates.Max():N0}]");
        Console.WriteLine($"  raw binary COPY of the same rows (baseline)      : {copy,10:N0} samples/s  [{copyRates.Min():N0}..{copyRates.Max():N0}]");
        Console.WriteLine($"  ratio ingest/raw COPY: {ingest / copy:F2}   goal >= 0.60 -> {(ingest / copy >= 0.6 ? "met" : "NOT met")}");
        Console.WriteLine($"  ingest-metrics, tenant with {ruleCount} alert rules evaluated after ingest: {withRules,10:N0} samples/s  [{ruledRates.Min():N0}..{ruledRates.Max():N0}]");
        Console.WriteLine($"  ratio with rules/without: {withRules / ingest:F2}   goal >= 0.90 -> {(withRules / ingest >= 0.9 ? "met" : "NOT met")}");
        Console.WriteLine();
    }

    private static async Task CopyAsync(NpgsqlDataSource data, IEnumerable<(long, DateTimeOffset, double)[]> chunks)
    {
        foreach (var chunk in chunks)
        {
            await using var connection = await data.OpenConnectionAsync();
            await using var tx = await connection.BeginTransactionAsync();
            await using (var writer = await connection.BeginBinaryImportAsync("copy metric_samples (series_id, ts, value) from stdin (format binary)"))
            {
                foreach (var (series, ts, value) in chunk)
                {
                    await writer.StartRowAsync();
                    await writer.WriteAsync(series, NpgsqlDbType.Bigint);
                    await writer.WriteAsync(ts, NpgsqlDbType.TimestampTz);
                    await writer.WriteAsync(value, NpgsqlDbType.Double);
                }

                await writer.CompleteAsync();
            }

            await tx.CommitAsync();
        }
    }

    /// <summary>About what the agent sends from a 2-core server with two disks, two interfaces and a few containers.</summary>
    private static List<MetricSample> Samples(int agent, long seq)
    {
        var list = new List<MetricSample>(80);
        var v = (agent * 31 + seq * 7) % 100;
        void Add(string name, double value, params (string, string)[] labels) =>
            list.Add(new MetricSample(name, labels.Length == 0 ? null : labels.ToDictionary(l => l.Item1, l => l.Item2), value));
        foreach (var core in new[] { "total", "0", "1" })
            Add("cpu.usage", v + 0.5, ("core", core));
        foreach (var n in new[] { "cpu.iowait", "cpu.steal", "load.1", "load.5", "load.15", "mem.total", "mem.used", "mem.available", "mem.cached", "mem.used_percent", "swap.total", "swap.used", "system.uptime_seconds", "system.processes" })
            Add(n, v * 1.5);
        foreach (var d in new[] { "sda", "sdb" })
            foreach (var n in new[] { "disk.read_bytes_per_second", "disk.write_bytes_per_second", "disk.reads_per_second", "disk.writes_per_second", "disk.busy_percent" })
                Add(n, v * 3, ("device", d));
        foreach (var m in new[] { "/", "/var/lib/docker", "/boot" })
            foreach (var n in new[] { "fs.size", "fs.used", "fs.available", "fs.used_percent" })
                Add(n, v * 1000, ("mount", m), ("device", "/dev/sda1"), ("fstype", "ext4"));
        foreach (var i in new[] { "eth0", "docker0" })
            foreach (var n in new[] { "net.rx_bytes_per_second", "net.tx_bytes_per_second", "net.rx_packets_per_second", "net.tx_packets_per_second", "net.errors_per_second", "net.drops_per_second" })
                Add(n, v * 10, ("interface", i));
        foreach (var s in new[] { "established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait", "close", "close_wait", "last_ack", "listen", "closing" })
            Add("tcp.connections", v, ("state", s));
        foreach (var c in new[] { "0123456789ab", "123456789abc", "23456789abcd", "3456789abcde" })
        {
            Add("container.cpu_percent", v / 4.0, ("container", c));
            Add("container.memory_bytes", v * 1e6, ("container", c));
        }

        return list;
    }

    private static async Task<Dictionary<SeriesKey, long>> SeriesIdsAsync(NpgsqlDataSource data)
    {
        var ids = new Dictionary<SeriesKey, long>();
        await using var command = data.CreateCommand("select id, agent_id, name, labels_key from metric_series");
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            ids[new SeriesKey(reader.GetString(1), reader.GetString(2), reader.GetString(3))] = reader.GetInt64(0);
        return ids;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class BenchJson : System.Text.Json.Serialization.JsonSerializerContext;
