using System.Text.Json;
using System.Text.Json.Serialization;
using Sentinel.Core.Monitoring;

namespace Sentinel.Functions.Monitoring;

internal sealed record RegisterAgentRequest(string? Name);

/// <summary>An agent in the inventory. Status: <c>online</c>, <c>offline</c> (no batch for its offline threshold),
/// <c>never</c> (registered, nothing received yet) or <c>revoked</c>.</summary>
internal sealed record AgentView(
    string Id, string Name, string Status, DateTimeOffset? LastSeen, DateTimeOffset? LastCollected, long? LastSeq, int? IntervalSeconds,
    string? Host, string? AgentVersion, int KeyVersion, DateTimeOffset? PreviousKeyValidUntil, DateTimeOffset CreatedAt, string CreatedBy,
    DateTimeOffset? RevokedAt, IReadOnlyDictionary<string, string> Facts)
{
    public static AgentView From(AgentRecord a, DateTimeOffset now, int offlineAfterIntervals)
    {
        string status;
        if (a.RevokedAt is not null)
            status = "revoked";
        else if (a.LastSeen is not { } seen)
            status = "never";
        else
        {
            var threshold = TimeSpan.FromSeconds(Math.Max(30, (a.IntervalSeconds ?? 10) * offlineAfterIntervals));
            status = now - seen <= threshold ? "online" : "offline";
        }

        var previousUntil = a.PreviousKeyUntil is { } until && until > now ? until : (DateTimeOffset?)null;
        return new AgentView(a.Id, a.Name, status, a.LastSeen, a.LastCollected, a.LastSeq, a.IntervalSeconds, a.Host, a.AgentVersion, a.KeyVersion,
            previousUntil, a.CreatedAt, a.CreatedBy, a.RevokedAt, a.Facts);
    }
}

internal sealed record AgentList(IReadOnlyList<AgentView> Agents, int Online, int Offline);

/// <summary>A new key: shown in this answer only, with the command that installs the agent with it.</summary>
internal sealed record AgentKeyResponse(AgentView Agent, string Key, int KeyVersion, string Install);

internal sealed record SeriesView(long Id, string Agent, string Metric, IReadOnlyDictionary<string, string> Labels);

internal sealed record SeriesList(IReadOnlyList<SeriesView> Series);

internal sealed record QuerySeries(long Id, string Agent, IReadOnlyDictionary<string, string> Labels, IReadOnlyList<double[]> Points);

/// <summary>A range query's answer; points are <c>[unix seconds, value]</c> at the start of each step.</summary>
internal sealed record QueryResponse(string Metric, string Aggregation, string Resolution, int Step, DateTimeOffset From, DateTimeOffset To, IReadOnlyList<QuerySeries> Series);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(RegisterAgentRequest))]
[JsonSerializable(typeof(AgentList))]
[JsonSerializable(typeof(AgentView))]
[JsonSerializable(typeof(AgentKeyResponse))]
[JsonSerializable(typeof(SeriesList))]
[JsonSerializable(typeof(QueryResponse))]
internal sealed partial class MonitoringJsonContext : JsonSerializerContext;
