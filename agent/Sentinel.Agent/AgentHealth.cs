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
        samples.Add(new MetricSample("agent.batches.collected", null, Collected));
        samples.Add(new MetricSample("agent.batches.sent", null, Sent));
        samples.Add(new MetricSample("agent.batches.dropped", null, spool.Dropped + Interlocked.Read(ref _rejected)));
        samples.Add(new MetricSample("agent.spool.batches", null, spool.Count));
        samples.Add(new MetricSample("agent.spool.bytes", null, spool.Bytes));
        samples.Add(new MetricSample("agent.send.errors", null, SendErrors));
        var last = Interlocked.Read(ref _lastErrorTicks);
        samples.Add(new MetricSample("agent.last_error_age_seconds", null, last == 0 ? -1 : Math.Round(Stopwatch.GetElapsedTime(last).TotalSeconds)));
        if (SelfRssBytes() is { } rss)
            samples.Add(new MetricSample("agent.rss_bytes", null, rss));
        if (SelfCpuSeconds() is { } cpu)
            samples.Add(new MetricSample("agent.cpu_seconds", null, cpu));
    }

    /// <summary>VmRSS of this process from /proc/self/status (System.Diagnostics.Process would cost more memory than it reports).</summary>
    private static double? SelfRssBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024.0;
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    /// <summary>utime + stime of this process from /proc/self/stat, in seconds (USER_HZ is 100 on Linux).</summary>
    private static double? SelfCpuSeconds()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
