using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Sentinel.Contracts.Metrics;

namespace Sentinel.Agent.Collectors;

/// <summary>
/// Probes the configured local services (Chatwoot, n8n <c>/healthz</c>, Evolution API, PostgreSQL, Redis…) in parallel:
/// <c>probe.up</c> (1 or 0) and <c>probe.latency_seconds</c> per service. HTTP is up below 500; TCP is up when it accepts.
/// </summary>
internal sealed class ProbeCollector(IReadOnlyList<ProbeConfig> probes, HttpClient http)
{
    public async Task<List<MetricSample>> CollectAsync(CancellationToken cancellationToken)
    {
        var results = await Task.WhenAll(probes.Select(p => ProbeAsync(p, cancellationToken)));
        var samples = new List<MetricSample>(probes.Count * 2);
        foreach (var (probe, up, seconds) in results)
        {
            var labels = new Dictionary<string, string>(StringComparer.Ordinal) { ["service"] = probe.Name };
            samples.Add(new MetricSample("probe.up", labels, up ? 1 : 0));
            samples.Add(new MetricSample("probe.latency_seconds", labels, Math.Round(seconds, 4)));
        }

        return samples;
    }

    private async Task<(ProbeConfig, bool, double)> ProbeAsync(ProbeConfig probe, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(probe.TimeoutMs);
        var started = Stopwatch.GetTimestamp();
        bool up;
        try
        {
            if (probe.Target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || probe.Target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            {
                using var response = await http.GetAsync(new Uri(probe.Target), HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                up = (int)response.StatusCode < 500;
            }
            else
            {
                var colon = probe.Target.LastIndexOf(':');
                using var client = new TcpClient();
                await client.ConnectAsync(probe.Target[..colon], int.Parse(probe.Target[(colon + 1)..], CultureInfo.InvariantCulture), timeout.Token);
                up = true;
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or SocketException or OperationCanceledException or FormatException or ArgumentException
                                       or IOException && !cancellationToken.IsCancellationRequested)
        {
            up = false;
        }

        return (probe, up, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }
}
