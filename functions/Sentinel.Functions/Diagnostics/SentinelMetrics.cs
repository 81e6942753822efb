using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Sentinel.Functions.Diagnostics;

/// <summary>The process's meters (System.Diagnostics.Metrics; exported by whatever listener the host attaches).</summary>
internal sealed class SentinelMetrics : IDisposable
{
    public const string MeterName = "Sentinel";
    private readonly Meter _meter;
    private readonly Counter<long> _invocations;
    private readonly Histogram<double> _invocationDuration;

    public SentinelMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _invocations = _meter.CreateCounter<long>("sentinel.invocations", description: "Function invocations by outcome");
        _invocationDuration = _meter.CreateHistogram<double>("sentinel.invocation.duration", unit: "s");
    }

    public void RecordInvocation(string function, string outcome, TimeSpan duration)
    {
        var tags = new TagList { { "function", function }, { "outcome", outcome } };
        _invocations.Add(1, tags);
        _invocationDuration.Record(duration.TotalSeconds, tags);
    }

    public void Dispose() => _meter.Dispose();
}
