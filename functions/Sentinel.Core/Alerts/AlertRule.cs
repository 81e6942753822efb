using System.Globalization;
using System.Text.RegularExpressions;
using Sentinel.Contracts.Metrics;
using Sentinel.Core.Identity;
using Sentinel.Core.Monitoring;

namespace Sentinel.Core.Alerts;

/// <summary>
/// An alert rule over stored metrics: <c>aggregation(metric{matchers}[window]) op threshold</c>, per series, held for
/// <see cref="For"/> before it fires and kept firing for <see cref="KeepFiringFor"/> after it stops being true.
/// </summary>
internal sealed record AlertRule(
    string Id, string TenantId, string Name, string Metric, IReadOnlyList<string> Matchers, string Aggregation, TimeSpan Window,
    string Op, double Threshold, TimeSpan For, TimeSpan KeepFiringFor, string Severity,
    IReadOnlyDictionary<string, string> Labels, IReadOnlyDictionary<string, string> Annotations, bool Enabled, int Version,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public bool Holds(double value) => Op switch
    {
        ">" => value > Threshold,
        ">=" => value >= Threshold,
        "<" => value < Threshold,
        "<=" => value <= Threshold,
        "==" => value == Threshold,
        _ => value != Threshold,
    };

    /// <summary>The rule as PromQL-like text, for logs and the UI: <c>avg(cpu.usage{host="a"}[2m]) > 90 for 5m</c>.</summary>
    public string Expression => string.Create(CultureInfo.InvariantCulture,
        $"{Aggregation}({Metric}{(Matchers.Count == 0 ? "" : "{" + string.Join(",", Matchers) + "}")}[{AlertRules.FormatDuration(Window)}]) {Op} {Threshold}")
        + (For > TimeSpan.Zero ? " for " + AlertRules.FormatDuration(For) : "");
}

/// <summary>What a caller sends to create or replace a rule; validated by <see cref="AlertRules.Validate"/>.</summary>
internal sealed record AlertRuleDraft(
    string? Name, string? Metric, IReadOnlyList<string>? Matchers, string? Aggregation, string? Window, string? Op, double? Threshold,
    string? For, string? KeepFiringFor, string? Severity, IReadOnlyDictionary<string, string>? Labels,
    IReadOnlyDictionary<string, string>? Annotations, bool? Enabled);

/// <summary>Rule vocabulary and validation.</summary>
internal static partial class AlertRules
{
    public static readonly IReadOnlyList<string> Aggregations = ["avg", "max", "min", "last", "rate"];
    public static readonly IReadOnlyList<string> Ops = [">", ">=", "<", "<=", "==", "!="];
    public static readonly IReadOnlyList<string> Severities = ["critical", "warning", "info"];
    public static readonly TimeSpan MaxWindow = TimeSpan.FromHours(6);
    public static readonly TimeSpan MaxFor = TimeSpan.FromDays(1);
    public const int MaxNameLength = 100;
    public const int MaxLabels = 20;
    public const int MaxAnnotationLength = 1000;
    public const int MaxRulesPerTenant = 500;

    /// <summary>A rule from a draft, or the first problem with it (field named, plain words).</summary>
    public static Outcome<AlertRule> Validate(AlertRuleDraft draft, string id, string tenantId, int version, DateTimeOffset createdAt, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var name = draft.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || name.Any(char.IsControl))
            return Invalid("name", $"name is required: 1–{MaxNameLength} printable characters.");
        if (draft.Metric is not { } metric || !MetricRules.IsMetricName(metric))
            return Invalid("metric", "metric is a metric name such as cpu.usage or fs.used_percent (letters, digits, '.', '_').");
        if (VirtualMetrics.IsVirtual(metric) && !VirtualMetrics.All.Contains(metric))
            return Invalid("metric", $"Metrics under '{VirtualMetrics.Prefix}' are computed by Sentinel: {string.Join(", ", VirtualMetrics.All)}.");
        var matchers = draft.Matchers ?? [];
        if (matchers.Count > MetricRules.MaxLabels)
            return Invalid("matchers", $"At most {MetricRules.MaxLabels} label matchers.");
        foreach (var m in matchers)
        {
            if (m is null || !LabelMatcher.TryParse(m, out var parsed))
                return Invalid("matchers", $"'{Shorten(m)}' is not a label matcher; write name=value, name!=value, name=~regex or name!~regex.");
            if (parsed!.Op.EndsWith('~') && !AlertSilences.IsRegex(parsed.Value))
                return Invalid("matchers", $"The regular expression in '{Shorten(m)}' is not valid.");
        }

        var aggregation = draft.Aggregation ?? "avg";
        if (!Aggregations.Contains(aggregation))
            return Invalid("aggregation", "aggregation is one of avg, max, min, last, rate.");
        if (!TryDuration(draft.Window ?? "5m", out var window) || window < TimeSpan.FromSeconds(10) || window > MaxWindow)
            return Invalid("window", "window is a duration from 10s to 6h, e.g. 2m.");
        if (draft.Op is not { } op || !Ops.Contains(op))
            return Invalid("op", "op is one of >, >=, <, <=, ==, !=.");
        if (draft.Threshold is not { } threshold || !double.IsFinite(threshold))
            return Invalid("threshold", "threshold is a finite number.");
        if (!TryDuration(draft.For ?? "0s", out var forDuration) || forDuration > MaxFor)
            return Invalid("for", "for is a duration up to 24h, e.g. 5m (0s fires on the first true evaluation).");
        if (!TryDuration(draft.KeepFiringFor ?? "0s", out var keep) || keep > MaxFor)
            return Invalid("keepFiringFor", "keepFiringFor is a duration up to 24h.");
        var severity = draft.Severity ?? "warning";
        if (!Severities.Contains(severity))
            return Invalid("severity", "severity is critical, warning or info.");
        var labels = draft.Labels ?? new Dictionary<string, string>();
        if (labels.Count > MaxLabels || labels.Any(kv => !MetricRules.IsLabelName(kv.Key) || kv.Value is null || kv.Value.Length > MetricRules.MaxLabelValueLength))
            return Invalid("labels", $"labels: at most {MaxLabels}, names of letters, digits and '_', values up to {MetricRules.MaxLabelValueLength} characters.");
        if (labels.ContainsKey("alertname") || labels.ContainsKey("severity"))
            return Invalid("labels", "alertname and severity are set from the rule's name and severity.");
        var annotations = draft.Annotations ?? new Dictionary<string, string>();
        if (annotations.Count > MaxLabels || annotations.Any(kv => !MetricRules.IsLabelName(kv.Key) || kv.Value is null || kv.Value.Length > MaxAnnotationLength))
            return Invalid("annotations", $"annotations: at most {MaxLabels}, names of letters, digits and '_', texts up to {MaxAnnotationLength} characters.");
        foreach (var (key, text) in annotations)
        {
            if (AlertTemplates.Check(text) is { } problem)
                return Invalid("annotations", $"annotations.{key}: {problem}");
        }

        return new AlertRule(id, tenantId, name, metric, [.. matchers], aggregation, window, op, threshold, forDuration, keep, severity,
            new Dictionary<string, string>(labels, StringComparer.Ordinal), new Dictionary<string, string>(annotations, StringComparer.Ordinal),
            draft.Enabled ?? true, version, createdAt, now);
    }

    /// <summary>Prometheus durations: <c>90s</c>, <c>5m</c>, <c>1h30m</c>, <c>1d</c> (also <c>ms</c>, <c>w</c>).</summary>
    public static bool TryDuration(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text) || text.Length > 32)
            return false;
        if (text == "0")
            return true;
        var m = DurationPattern().Match(text);
        if (!m.Success)
            return false;
        foreach (Capture c in m.Groups["part"].Captures)
        {
            var unit = c.Value.TrimStart("0123456789".ToCharArray());
            if (!long.TryParse(c.Value.AsSpan(0, c.Value.Length - unit.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > 100_000)
                return false;
            duration += unit switch
            {
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" => TimeSpan.FromSeconds(n),
                "m" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                "d" => TimeSpan.FromDays(n),
                _ => TimeSpan.FromDays(7 * n),
            };
        }

        return true;
    }

    /// <summary>The shortest Prometheus spelling: <c>5m</c>, <c>1h30m</c>, <c>0s</c>.</summary>
    public static string FormatDuration(TimeSpan d)
    {
        if (d <= TimeSpan.Zero)
            return "0s";
        var parts = new System.Text.StringBuilder();
        if (d.Days > 0) parts.Append(CultureInfo.InvariantCulture, $"{d.Days}d");
        if (d.Hours > 0) parts.Append(CultureInfo.InvariantCulture, $"{d.Hours}h");
        if (d.Minutes > 0) parts.Append(CultureInfo.InvariantCulture, $"{d.Minutes}m");
        if (d.Seconds > 0) parts.Append(CultureInfo.InvariantCulture, $"{d.Seconds}s");
        if (d.Milliseconds > 0) parts.Append(CultureInfo.InvariantCulture, $"{d.Milliseconds}ms");
        return parts.ToString();
    }

    private static string Shorten(string? text) => text is null ? "null" : text.Length > 60 ? text[..60] + "…" : text;

    private static Failure Invalid(string field, string detail) => new(FailureKind.Invalid, "validation-failed", $"Invalid {field}", detail);

    [GeneratedRegex(@"^(?<part>[0-9]+(?:ms|s|m|h|d|w))+$")]
    private static partial Regex DurationPattern();
}
