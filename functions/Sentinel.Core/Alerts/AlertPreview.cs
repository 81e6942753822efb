using Sentinel.Core.Identity;
using Sentinel.Core.Monitoring;

namespace Sentinel.Core.Alerts;

/// <summary>How often a draft rule would have fired over a past window.</summary>
internal sealed record AlertPreviewResult(int Series, int SeriesFiring, int Firings, double FiringMinutes, int StepSeconds, DateTimeOffset From, DateTimeOffset To, string Note);

/// <summary>
/// The rules editor's preview: the draft's condition replayed over the last 24 hours of stored data, one evaluation per
/// step (the rule's window, 1–5 minutes), with <c>for</c> as consecutive true evaluations. An approximation of the
/// evaluator (which runs every minute over raw samples, with <c>keep_firing_for</c>), said so in <see cref="AlertPreviewResult.Note"/>;
/// computed metrics (<c>sentinel.*</c>) have no stored history to replay.
/// </summary>
internal sealed class AlertPreview(MetricQueries queries, TimeProvider time)
{
    public static readonly TimeSpan Span = TimeSpan.FromHours(24);

    public async Task<Outcome<AlertPreviewResult>> RunAsync(string tenantId, AlertRuleDraft draft, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var validated = AlertRules.Validate(draft with { Name = string.IsNullOrWhiteSpace(draft.Name) ? "preview" : draft.Name }, "preview", tenantId, 1, now, now);
        if (!validated.Succeeded)
            return validated.Failure!;
        var rule = validated.Value!;
        var from = now - Span;
        var step = (int)Math.Clamp(rule.Window.TotalSeconds, 60, 300);
        if (VirtualMetrics.IsVirtual(rule.Metric))
            return new AlertPreviewResult(0, 0, 0, 0, step, from, now, $"{rule.Metric} is computed when rules are evaluated; it has no stored history to preview.");
        var aggregation = rule.Aggregation is "rate" ? "last" : rule.Aggregation;
        // The last 6 hours from raw samples (roll-ups lag the newest minutes), the 18 before from the 1-minute roll-ups.
        var recentFrom = now - TimeSpan.FromHours(6);
        var older = await queries.RangeAsync(tenantId, rule.Metric, null, rule.Matchers, from, recentFrom, step, aggregation, cancellationToken);
        if (!older.Succeeded)
            return older.Failure!;
        var recent = await queries.RangeAsync(tenantId, rule.Metric, null, rule.Matchers, recentFrom, now, step, aggregation, cancellationToken);
        if (!recent.Succeeded)
            return recent.Failure!;
        var merged = older.Value!.Series.Concat(recent.Value!.Series).GroupBy(s => s.Series.Id)
            .Select(g => g.SelectMany(s => s.Points).OrderBy(p => p.Time).ToList()).ToList();
        var needed = Math.Max(1, (int)Math.Ceiling(rule.For.TotalSeconds / step));
        int firing = 0, episodes = 0;
        double minutes = 0;
        foreach (var points in merged)
        {
            var run = 0;
            var fired = false;
            (long Time, double Value)? previous = null;
            foreach (var point in points)
            {
                double? value = rule.Aggregation == "rate"
                    ? previous is { } p && point.Time > p.Time ? (point.Value - p.Value) / (point.Time - p.Time) : null
                    : point.Value;
                previous = point;
                if (value is not { } v)
                    continue;
                run = rule.Holds(v) ? run + 1 : 0;
                if (run >= needed)
                {
                    if (run == needed)
                        episodes++;
                    minutes += step / 60.0;
                    fired = true;
                }
            }

            if (fired)
                firing++;
        }

        return new AlertPreviewResult(merged.Count, firing, episodes, Math.Round(minutes, 1), step, from, now,
            $"Replayed at {step / 60} min steps over stored data; the evaluator itself runs every minute and also honours keepFiringFor.");
    }
}
