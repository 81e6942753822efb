using System.Diagnostics;
using Sentinel.Contracts.Metrics;

namespace Sentinel.Agent;

/// <summary>The agent's own counters, shipped with every batch as <c>agent.*</c> metrics (and the last error as a fact).</summary>
internal sealed class AgentHealth
{
    private long _collected;
    private long _sent;
    private long _rejected;
    private long _sendErrors;
    private long _lastErrorTicks;

    public long Collected => Interlocked.Read(ref _collected);
    public long Sent => Interlocked.Read(ref _sent);
    public long SendErrors => Interlocked.Read(ref _sendErrors);
    public string? LastError { get; private set; }

    public void OnCollected() => Interlocked.Increment(ref _collected);

    public void OnSent(int batches) => Interlocked.Add(ref _sent, batches);

    public void OnRejected(int batches) => Interlocked.Add(ref _rejected, batches);

    public void OnError(string message)
    {
        Interlocked.Increment(ref _sendErrors);
        LastError = message.Length > 200 ? message[..200] : message;
        Interlocked.Exchange(ref _lastErrorTicks, Stopwatch.GetTimestamp());
    }

    public void AddSamples(List<MetricSample> samples, Spool spool)
    {
        using var self = Process.GetCurrentProcess();
        samples.Add(new MetricSample("agent.batches.collected", null, Collected));
        samples.Add(new MetricSample("agent.batches.sent", null, Sent));
        samples.Add(new MetricSample("agent.batches.dropped", null, spool.Dropped + Interlocked.Read(ref _rejected)));
        samples.Add(new MetricSample("agent.spool.batches", null, spool.Count));
        samples.Add(new MetricSample("agent.spool.bytes", null, spool.Bytes));
        samples.Add(new MetricSample("agent.send.errors", null, SendErrors));
        var last = Interlocked.Read(ref _lastErrorTicks);
        samples.Add(new MetricSample("agent.last_error_age_seconds", null, last == 0 ? -1 : Math.Round(Stopwatch.GetElapsedTime(last).TotalSeconds)));
        samples.Add(new MetricSample("agent.rss_bytes", null, self.WorkingSet64));
        samples.Add(new MetricSample("agent.cpu_seconds", null, Math.Round(self.TotalProcessorTime.TotalSeconds, 3)));
    }
}
