using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sentinel.Core.Alerts;
using Sentinel.Core.Identity;
using Sentinel.Core.Insights;
using Sentinel.Functions.Gateway;
using Sentinel.Functions.Http;

namespace Sentinel.Functions.Insights;

/// <summary>An insight as the API shows it.</summary>
internal sealed record InsightView(
    long Id, string Scope, string Kind, string Subject, string Severity, string Title, string Message, string Action, IReadOnlyDictionary<string, double> Evidence,
    DateTimeOffset WindowStart, DateTimeOffset WindowEnd, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, string State, DateTimeOffset? ResolvedAt)
{
    public static InsightView From(Insight i) => new(i.Id, i.TenantId is null ? "installation" : "tenant", i.Kind, i.Subject, i.Severity, i.Title, i.Message, i.Action,
        i.Evidence, i.WindowStart, i.WindowEnd, i.FirstSeen, i.LastSeen, i.State, i.ResolvedAt);
}

internal sealed record InsightPage(IReadOnlyList<InsightView> Insights, long? Next);

/// <summary>A firing alert in the status summary.</summary>
internal sealed record FiringSummary(string RuleName, string Severity, IReadOnlyDictionary<string, string> Labels, double? Value, DateTimeOffset? Since, bool Muted);

/// <summary>The five-second answer: a status word, a few sentences, and what they are made of.</summary>
internal sealed record StatusSummary(string Status, string Summary, IReadOnlyList<string> Highlights, IReadOnlyList<FiringSummary> Firing, IReadOnlyList<InsightView> Insights,
    DateTimeOffset GeneratedAt);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(InsightPage))]
[JsonSerializable(typeof(StatusSummary))]
internal sealed partial class InsightsApiJsonContext : JsonSerializerContext;

/// <summary><c>/api/insights</c> (what the heuristics found) and <c>/api/ai/insight</c> (a short current-status summary
/// from the live insights and firing alerts). Viewers and <c>alerts:read</c> keys; owners also see the installation's
/// insights (the gateway's traffic, attacks on sign-in), which belong to no tenant.</summary>
internal static class InsightsEndpoints
{
    public static IEndpointRouteBuilder MapInsightsEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/insights", async (string? kind, string? severity, string? state, DateTimeOffset? since, long? before, int? limit, InsightStore store, HttpContext http) =>
        {
            if (kind is not null && !InsightKinds.All.Contains(kind))
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid kind", $"kind is one of {string.Join(", ", InsightKinds.All)}.");
            if (severity is not (null or "critical" or "warning" or "info"))
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid severity", "severity is critical, warning or info.");
            if (state is not (null or "active" or "resolved"))
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid state", "state is active or resolved.");
            if (limit is < 1 or > 500)
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid limit", "limit is 1 to 500.");
            var principal = http.Principal();
            var take = limit ?? 50;
            var list = await store.ListAsync(principal.TenantId, SeesInstallation(principal), new InsightQuery(kind, severity, state, since, before, take), http.RequestAborted);
            return TypedResults.Json(new InsightPage(list.Select(InsightView.From).ToList(), list.Count == take ? list[^1].Id : null), InsightsApiJsonContext.Default.InsightPage);
        }).WithTags("insights").RequireRole(Role.Viewer, Scopes.AlertsRead)
          .WithSummary("What the heuristics noticed (brute force, floods, error spikes, latency, anomalies, the chatbot stack), newest first; filter by kind, severity, state, since; page with before=next.")
          .Produces<InsightPage>();

        app.MapGet("/api/ai/insight", async (InsightStore store, AlertStore alerts, AlertSilences silences, TimeProvider time, HttpContext http) =>
        {
            var principal = http.Principal();
            var now = time.GetUtcNow();
            var active = await store.ListAsync(principal.TenantId, SeesInstallation(principal), new InsightQuery(null, null, "active", null, null, 50), http.RequestAborted);
            var instances = await alerts.ActiveAsync(principal.TenantId, AlertStates.Firing, http.RequestAborted);
            var silenceList = await silences.ListAsync(principal.TenantId, false, http.RequestAborted);
            var inhibitors = instances.Select(a => (a.Instance, a.RuleName)).ToList();
            var firing = instances.Select(a =>
            {
                var (silencedBy, inhibitedBy) = AlertSilences.Muting(a.Instance.Labels, silenceList, inhibitors, now);
                return new FiringSummary(a.RuleName, a.Severity, a.Instance.Labels, a.Instance.Value, a.Instance.FiredAt, silencedBy.Count > 0 || inhibitedBy is not null);
            }).ToList();
            return TypedResults.Json(Summarize(firing, active.Select(InsightView.From).ToList(), now), InsightsApiJsonContext.Default.StatusSummary);
        }).WithTags("insights").RequireRole(Role.Viewer, Scopes.AlertsRead)
          .WithSummary("A short current-status summary: ok, degraded or critical, in sentences composed from the firing alerts and the active insights.")
          .Produces<StatusSummary>();

        return app;
    }

    private static bool SeesInstallation(Principal principal) => !principal.IsApiKey && principal.Role >= Role.Owner;

    /// <summary>Composes the summary: critical when a critical alert fires unmuted or a critical insight is active;
    /// degraded for anything else unmuted; ok otherwise. Sentences name the worst things first.</summary>
    internal static StatusSummary Summarize(IReadOnlyList<FiringSummary> firing, IReadOnlyList<InsightView> insights, DateTimeOffset now)
    {
        var loud = firing.Where(f => !f.Muted).OrderBy(f => Rank(f.Severity)).ThenBy(f => f.Since).ToList();
        var worst = insights.OrderBy(i => Rank(i.Severity)).ThenByDescending(i => i.LastSeen).ToList();
        var status = loud.Any(f => f.Severity == "critical") || worst.Any(i => i.Severity == "critical") ? "critical"
            : loud.Count > 0 || worst.Any(i => i.Severity == "warning") ? "degraded" : "ok";
        var sentences = new List<string>();
        if (loud.Count == 0 && worst.Count == 0)
        {
            sentences.Add(firing.Count > 0
                ? $"Everything looks fine: {Count(firing.Count, "alert")} firing, all silenced or inhibited, and no active insight."
                : "Everything looks fine: no alert is firing and the heuristics found nothing unusual.");
        }
        else
        {
            if (loud.Count > 0)
            {
                var critical = loud.Count(f => f.Severity == "critical");
                var named = string.Join("; ", loud.Take(3).Select(f => f.RuleName + Where(f.Labels)));
                sentences.Add($"{Count(loud.Count, "alert")} firing{(critical > 0 ? $" ({critical} critical)" : "")}: {named}{(loud.Count > 3 ? $"; and {loud.Count - 3} more" : "")}.");
            }

            var muted = firing.Count - loud.Count;
            if (muted > 0)
                sentences.Add($"{Count(muted, "more alert")} silenced or inhibited.");
            foreach (var i in worst.Take(3))
                sentences.Add(i.Message);
            if (worst.Count > 3)
                sentences.Add($"{Count(worst.Count - 3, "more insight")} on the insights page.");
        }

        var highlights = loud.Take(5).Select(f => $"{f.Severity}: {f.RuleName}{Where(f.Labels)}").Concat(worst.Take(5).Select(i => $"{i.Severity}: {i.Title}")).ToList();
        return new StatusSummary(status, string.Join(" ", sentences), highlights, firing, worst.Take(10).ToList(), now);
    }

    private static int Rank(string severity) => severity switch
    {
        "critical" => 0,
        "warning" => 1,
        _ => 2,
    };

    private static string Where(IReadOnlyDictionary<string, string> labels) =>
        labels.TryGetValue("agent_name", out var n) ? " on " + n : labels.TryGetValue("host", out var h) ? " on " + h : labels.TryGetValue("instance", out var i) ? " on " + i : "";

    private static string Count(int n, string noun) => n.ToString(CultureInfo.InvariantCulture) + " " + noun + (n == 1 ? "" : "s");
}
