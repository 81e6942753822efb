using System.Text.Json;
using System.Text.Json.Serialization;
using Sentinel.Core.Alerts;

namespace Sentinel.Functions.Alerts;

/// <summary>A rule as the API shows it; durations in Prometheus notation (<c>5m</c>).</summary>
internal sealed record RuleView(
    string Id, string Name, string Metric, IReadOnlyList<string> Matchers, string Aggregation, string Window, string Op, double Threshold,
    string For, string KeepFiringFor, string Severity, IReadOnlyDictionary<string, string> Labels, IReadOnlyDictionary<string, string> Annotations,
    bool Enabled, int Version, string Expression, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static RuleView From(AlertRule r) => new(r.Id, r.Name, r.Metric, r.Matchers, r.Aggregation, AlertRules.FormatDuration(r.Window), r.Op, r.Threshold,
        AlertRules.FormatDuration(r.For), AlertRules.FormatDuration(r.KeepFiringFor), r.Severity, r.Labels, r.Annotations, r.Enabled, r.Version, r.Expression,
        r.CreatedAt, r.UpdatedAt);
}

internal sealed record RuleList(IReadOnlyList<RuleView> Rules);

/// <summary>A pending or firing alert.</summary>
internal sealed record AlertView(
    string RuleId, string RuleName, string Severity, string State, IReadOnlyDictionary<string, string> Labels, double? Value,
    DateTimeOffset ActiveAt, DateTimeOffset? FiredAt, DateTimeOffset LastTrueAt, DateTimeOffset EvaluatedAt,
    IReadOnlyList<string> SilencedBy, string? InhibitedBy);

/// <summary>A silence with its state now (pending, active, expired).</summary>
internal sealed record SilenceView(string Id, IReadOnlyList<string> Matchers, DateTimeOffset StartsAt, DateTimeOffset EndsAt, string CreatedBy, string Comment,
    DateTimeOffset CreatedAt, string State)
{
    public static SilenceView From(AlertSilence s, DateTimeOffset now) => new(s.Id, s.Matchers, s.StartsAt, s.EndsAt, s.CreatedBy, s.Comment, s.CreatedAt, s.State(now));
}

internal sealed record SilenceList(IReadOnlyList<SilenceView> Silences);

internal sealed record AlertList(IReadOnlyList<AlertView> Alerts);

/// <summary>One page of history, newest first; <c>next</c> is the <c>before</c> of the following page.</summary>
internal sealed record HistoryPage(IReadOnlyList<AlertChange> Changes, long? Next);

/// <summary>A receiver as the API shows it; the signing secret only in the answer to its creation.</summary>
internal sealed record ReceiverView(
    string Id, string Name, string Kind, string? Url, string? ChatwootInstance, long? ChatwootConversationId, IReadOnlyList<string> Matchers,
    IReadOnlyList<string> GroupBy, string? GroupWait, string? GroupInterval, string? RepeatInterval, bool SendResolved, bool Enabled, string? DisabledReason,
    int Version, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? SigningSecret)
{
    public static ReceiverView From(AlertReceiver r, bool withSecret) => new(r.Id, r.Name, r.Kind, r.Url, r.ChatwootInstance, r.ChatwootConversationId, r.Matchers,
        r.GroupBy, D(r.GroupWait), D(r.GroupInterval), D(r.RepeatInterval), r.SendResolved, r.Enabled, r.DisabledReason, r.Version, r.CreatedAt, r.UpdatedAt,
        withSecret ? r.SigningSecret : null);

    private static string? D(TimeSpan? d) => d is { } v ? AlertRules.FormatDuration(v) : null;
}

internal sealed record ReceiverList(IReadOnlyList<ReceiverView> Receivers);

/// <summary>A queued test notification: its relay delivery.</summary>
internal sealed record TestSent(long DeliveryId, string Delivery);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(AlertRuleDraft))]
[JsonSerializable(typeof(RuleView))]
[JsonSerializable(typeof(RuleList))]
[JsonSerializable(typeof(AlertList))]
[JsonSerializable(typeof(HistoryPage))]
[JsonSerializable(typeof(AlertSilenceDraft))]
[JsonSerializable(typeof(SilenceView))]
[JsonSerializable(typeof(SilenceList))]
[JsonSerializable(typeof(AlertReceiverDraft))]
[JsonSerializable(typeof(ReceiverView))]
[JsonSerializable(typeof(ReceiverList))]
[JsonSerializable(typeof(TestSent))]
[JsonSerializable(typeof(AlertPreviewResult))]
internal sealed partial class AlertsApiJsonContext : JsonSerializerContext;
