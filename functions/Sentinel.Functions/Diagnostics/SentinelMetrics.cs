using System.Diagnostics;
using System.Diagnostics.Metrics;
using Sentinel.Core.Monitoring;
using Sentinel.Core.RateLimiting;
using Sentinel.Core.RequestLog;

namespace Sentinel.Functions.Diagnostics;

/// <summary>The process's meters (System.Diagnostics.Metrics; exported by whatever listener the host attaches).</summary>
internal sealed class SentinelMetrics : IDisposable
{
    public const string MeterName = "Sentinel";
    private readonly Meter _meter;
    private readonly Counter<long> _invocations;
    private readonly Histogram<double> _invocationDuration;

    public SentinelMetrics(IMeterFactory meterFactory, RateLimiter limiter, RequestLogWriter requestLog, Sentinel.Core.Identity.TokenRevocations revocations, MetricIngest ingest,
        Sentinel.Core.Relay.RelayDispatcher relay)
    {
        _meter = meterFactory.Create(MeterName);
        _meter.CreateObservableCounter("sentinel.ratelimit.fail_open.decisions", () => limiter.FailOpenDecisions, description: "Rate-limit decisions made in process because Redis was unreachable");
        _meter.CreateObservableGauge("sentinel.ratelimit.degraded", () => limiter.IsDegraded ? 1 : 0, description: "1 while rate limiting fails open");
        _meter.CreateObservableCounter("sentinel.identity.revocations.unpublished", () => revocations.Unpublished, description: "Token revocations Redis did not record (they held on the revoking instance only)");
        _meter.CreateObservableCounter("sentinel.requestlog.written", () => requestLog.Written, description: "Request-log rows written");
        _meter.CreateObservableCounter("sentinel.requestlog.dropped", () => requestLog.Dropped, description: "Request-log entries dropped because the queue was full");
        _meter.CreateObservableGauge("sentinel.requestlog.pending", () => requestLog.Pending, description: "Request-log entries waiting to be written");
        _invocations = _meter.CreateCounter<long>("sentinel.invocations", description: "Function invocations by outcome");
        _invocationDuration = _meter.CreateHistogram<double>("sentinel.invocation.duration", unit: "s");
        _meter.CreateObservableCounter("sentinel.ingest.batches", () => new[]
        {
            new Measurement<long>(ingest.Stored, new KeyValuePair<string, object?>("outcome", "stored")),
            new Measurement<long>(ingest.Duplicates, new KeyValuePair<string, object?>("outcome", "duplicate")),
            new Measurement<long>(ingest.Rejected, new KeyValuePair<string, object?>("outcome", "rejected")),
        }, description: "Agent metric batches by outcome (stored, duplicate, rejected)");
        _meter.CreateObservableCounter("sentinel.ingest.samples", () => ingest.Samples, description: "Metric samples stored");
        _meter.CreateObservableCounter("sentinel.relay.attempts", () => new[]
        {
            new Measurement<long>(relay.Delivered, new KeyValuePair<string, object?>("outcome", "delivered")),
            new Measurement<long>(relay.Failed, new KeyValuePair<string, object?>("outcome", "failed")),
        }, description: "Relay delivery attempts by outcome (delivered, failed)");
        _meter.CreateObservableCounter("sentinel.relay.dead_letters", () => relay.DeadLettered, description: "Relay deliveries dead-lettered");
        _meter.CreateObservableGauge("sentinel.relay.breakers.open", () => relay.OpenBreakerCount, description: "Relay targets whose circuit breaker is open");
    }

    public void RecordInvocation(string function, string outcome, TimeSpan duration)
    {
        var tags = new TagList { { "function", function }, { "outcome", outcome } };
        _invocations.Add(1, tags);
        _invocationDuration.Record(duration.TotalSeconds, tags);
    }

    public void Dispose() => _meter.Dispose();
}
