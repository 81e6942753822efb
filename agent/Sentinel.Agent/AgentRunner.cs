using System.Diagnostics;
using System.Text.Json;
using Sentinel.Agent.Collectors;
using Sentinel.Contracts.Metrics;

namespace Sentinel.Agent;

/// <summary>
/// The agent's steady loop: every interval, collect (system, probes, its own health), write the batch to the spool and
/// wake the sender. Collection never waits on the network — the sender drains the spool on its own task.
/// </summary>
internal sealed class AgentRunner : IDisposable
{
    private readonly AgentConfig _config;
    private readonly TimeProvider _time;
    private readonly Action<string> _log;
    private readonly SystemCollector _system;
    private readonly ProbeCollector _probes;
    private readonly HttpClient _http;
    private readonly string _host;

    public AgentRunner(AgentConfig config, TimeProvider time, Action<string> log, HttpMessageHandler? handler = null, bool send = true)
    {
        _config = config;
        _time = time;
        _log = log;
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            MaxConnectionsPerServer = 4,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("sentinel-agent/" + Version);
        _system = new SystemCollector(config.ProcRoot, config.SysRoot, config.IgnoreFileSystems);
        _probes = new ProbeCollector(config.Probes, _http);
        _host = config.HostName ?? Environment.MachineName;
        Spool = new Spool(config.SpoolDirectory, config.SpoolMaxBytes);
        Health = new AgentHealth();
        Sender = send ? new EventHubsSender(config, Spool, _http, Health, time, log) : null;
    }

    public static string Version { get; } = typeof(AgentRunner).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public Spool Spool { get; }
    public AgentHealth Health { get; }
    /// <summary>Null for <c>collect</c>, which only prints.</summary>
    public EventHubsSender? Sender { get; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var sending = Sender?.RunAsync(cancellationToken) ?? Task.CompletedTask;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_config.IntervalSeconds), _time);
        _log($"sentinel-agent {Version}: agent {_config.AgentId}, every {_config.IntervalSeconds} s, spool {_config.SpoolDirectory} ({Spool.Count} batches waiting)");
        try
        {
            do
            {
                try
                {
                    await CollectOnceAsync(cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Health.OnError("collect: " + ex.Message);
                    _log("collect failed: " + ex.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        await sending;
    }

    /// <summary>One pass: collect, spool, wake the sender. Returns the batch.</summary>
    public async Task<MetricBatch> CollectOnceAsync(CancellationToken cancellationToken)
    {
        var samples = _system.Collect(Stopwatch.GetTimestamp(), Stopwatch.Frequency);
        if (_config.Probes.Count > 0)
            samples.AddRange(await _probes.CollectAsync(cancellationToken));
        Health.OnCollected();
        Health.AddSamples(samples, Spool);
        if (samples.Count > MetricRules.MaxSamples)
            samples.RemoveRange(MetricRules.MaxSamples, samples.Count - MetricRules.MaxSamples);
        var facts = _system.Facts();
        facts["agent_version"] = Version;
        if (Health.LastError is { } error)
            facts["last_error"] = error;
        var batch = new MetricBatch(MetricBatch.CurrentVersion, _config.AgentId, Spool.NextSequence(), _host, _time.GetUtcNow(), _config.IntervalSeconds, samples, facts);
        if (MetricRules.Validate(batch) is { } problem)
            throw new InvalidOperationException("the batch is invalid: " + problem);
        Spool.Write(batch.Seq, JsonSerializer.SerializeToUtf8Bytes(batch, MetricsJsonContext.Default.MetricBatch));
        Sender?.Signal();
        return batch;
    }

    public void Dispose()
    {
        Sender?.Dispose();
        _http.Dispose();
    }
}
