using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sentinel.Contracts.Metrics;

/// <summary>
/// What an agent sends: one collection pass of one server. Version 1 of the wire format; the body of one Event Hubs
/// event, JSON (source-generated, <see cref="MetricsJsonContext"/>). The signature covers the exact body bytes, so the
/// function parses the bytes it verified, never a re-serialisation.
/// </summary>
/// <param name="Version">Wire format version; <see cref="CurrentVersion"/>.</param>
/// <param name="Agent">The agent's id, as registered.</param>
/// <param name="Seq">Per-agent sequence number, from 1, never reused (the agent keeps it on disk).</param>
/// <param name="Host">The server's host name.</param>
/// <param name="Time">When the samples were collected (UTC).</param>
/// <param name="Interval">The collection interval in seconds.</param>
/// <param name="Samples">The measurements.</param>
/// <param name="Facts">Host facts (os, kernel, cpus, memory, agent version); sent with every batch, small.</param>
public sealed record MetricBatch(
    [property: JsonPropertyName("v")] int Version,
    [property: JsonPropertyName("agent")] string Agent,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("time")] DateTimeOffset Time,
    [property: JsonPropertyName("interval")] int Interval,
    [property: JsonPropertyName("samples")] IReadOnlyList<MetricSample> Samples,
    [property: JsonPropertyName("facts")] IReadOnlyDictionary<string, string>? Facts = null)
{
    public const int CurrentVersion = 1;
}

/// <summary>One measurement: a metric name (dotted, <c>cpu.usage</c>), labels, and a value.</summary>
public sealed record MetricSample(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("labels")] IReadOnlyDictionary<string, string>? Labels,
    [property: JsonPropertyName("value")] double Value);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(MetricBatch))]
public sealed partial class MetricsJsonContext : JsonSerializerContext;
