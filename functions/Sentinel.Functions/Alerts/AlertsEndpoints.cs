using System.Globalization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.HttpResults;
using Sentinel.Core.Alerts;
using Sentinel.Core.Identity;
using Sentinel.Functions.Gateway;
using Sentinel.Functions.Http;

namespace Sentinel.Functions.Alerts;

/// <summary><c>/api/alerts</c>: rules (read: viewers and <c>alerts:read</c> keys; write: admins), the pending and firing
/// alerts, and the history of every state change.</summary>
internal static class AlertsEndpoints
{
    public static IEndpointRouteBuilder MapAlertsEndpoints(this IEndpointRouteBuilder app)
    {
        var alerts = app.MapGroup("/api/alerts").WithTags("alerts");

        alerts.MapGet("/", async (string? state, AlertStore store, AlertSilences silences, TimeProvider time, HttpContext http) =>
        {
            if (state is not null && state is not (AlertStates.Pending or AlertStates.Firing))
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid state", "state is pending or firing.");
            var tenant = http.Principal().TenantId;
            var all = await store.ActiveAsync(tenant, null, http.RequestAborted);
            var active = await silences.ListAsync(tenant, false, http.RequestAborted);
            var now = time.GetUtcNow();
            var firing = all.Select(a => (a.Instance, a.RuleName)).ToList();
            return TypedResults.Json(new AlertList(all.Where(a => state is null || a.Instance.State == state).Select(a =>
            {
                var (silencedBy, inhibitedBy) = AlertSilences.Muting(a.Instance.Labels, active, firing, now);
                return new AlertView(a.Instance.RuleId, a.RuleName, a.Severity, a.Instance.State, a.Instance.Labels, a.Instance.Value, a.Instance.ActiveAt,
                    a.Instance.FiredAt, a.Instance.LastTrueAt, a.Instance.EvaluatedAt, silencedBy, inhibitedBy);
            }).ToList()), AlertsApiJsonContext.Default.AlertList);
        }).RequireRole(Role.Viewer, Scopes.AlertsRead)
          .WithSummary("Pending and firing alerts, newest first; filter by state. silencedBy / inhibitedBy say why one is muted.").Produces<AlertList>();

        var silenceGroup = alerts.MapGroup("/silences");
        silenceGroup.MapGet("/", async (bool? expired, AlertSilences silences, TimeProvider time, HttpContext http) =>
        {
            var now = time.GetUtcNow();
            var list = await silences.ListAsync(http.Principal().TenantId, expired ?? false, http.RequestAborted);
            return TypedResults.Json(new SilenceList(list.Select(s => SilenceView.From(s, now)).ToList()), AlertsApiJsonContext.Default.SilenceList);
        }).RequireRole(Role.Viewer, Scopes.AlertsRead).WithSummary("Pending and active silences (expired=true adds those ended in the last 7 days).").Produces<SilenceList>();

        silenceGroup.MapPost("/", async (AlertSilenceDraft body, AlertSilences silences, TimeProvider time, HttpContext http) =>
        {
            var outcome = await silences.CreateAsync(http.Principal(), body, http.RequestAborted);
            return outcome.Succeeded
                ? TypedResults.Json(SilenceView.From(outcome.Value!, time.GetUtcNow()), AlertsApiJsonContext.Default.SilenceView, statusCode: StatusCodes.Status201Created)
                : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Operator)
          .WithSummary("Silence the alerts matching every matcher, from startsAt (default now) to endsAt (at most 90 days); a comment says why.")
          .Produces<SilenceView>(StatusCodes.Status201Created);

        silenceGroup.MapDelete("/{id}", async (string id, AlertSilences silences, HttpContext http) =>
        {
            var outcome = await silences.ExpireAsync(http.Principal().TenantId, id, http.RequestAborted);
            return outcome.Succeeded ? Results.NoContent() : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Operator).WithSummary("Expire a silence now (it stays listed for 7 days with expired=true).");

        alerts.MapGet("/history", async (string? rule, string? state, string? kind, DateTimeOffset? from, DateTimeOffset? to, long? before, int? limit, AlertStore store, HttpContext http) =>
        {
            if (state is not null && state is not (AlertStates.Inactive or AlertStates.Pending or AlertStates.Firing or AlertStates.Resolved))
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid state", "state is pending, firing, resolved or inactive (the state changed to).");
            if (kind is not (null or "state" or "notification"))
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid kind", "kind is state (state changes) or notification (what was sent, to whom).");
            if (limit is < 1 or > 500)
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid limit", "limit is 1 to 500.");
            var take = limit ?? 100;
            var page = await store.HistoryAsync(http.Principal().TenantId, new AlertHistoryQuery(rule, state, from, to, before, take, kind), http.RequestAborted);
            return TypedResults.Json(new HistoryPage(page, page.Count == take ? page[^1].Id : null), AlertsApiJsonContext.Default.HistoryPage);
        }).RequireRole(Role.Viewer, Scopes.AlertsRead)
          .WithSummary("Every state change (pending, firing, resolved, inactive) and every notification (receiver, delivery and its state), newest first; " +
                       "filter by rule, state, kind and time; page with before=next.").Produces<HistoryPage>();

        MapReceivers(alerts.MapGroup("/receivers"));

        var rules = alerts.MapGroup("/rules");
        rules.MapGet("/", async (AlertStore store, HttpContext http) =>
        {
            var tenant = http.Principal().TenantId;
            await store.EnsureBuiltinsAsync(tenant, http.RequestAborted);
            return TypedResults.Json(new RuleList((await store.ListAsync(tenant, http.RequestAborted)).Select(RuleView.From).ToList()), AlertsApiJsonContext.Default.RuleList);
        }).RequireRole(Role.Viewer, Scopes.AlertsRead).WithSummary("The tenant's alert rules, the built-in ones included (created once; edit or delete them like any other).").Produces<RuleList>();

        rules.MapPost("/", async (AlertRuleDraft body, AlertStore store, HttpContext http) =>
        {
            var outcome = await store.CreateAsync(http.Principal().TenantId, body, http.RequestAborted);
            return outcome.Succeeded ? Saved(http, outcome.Value!, StatusCodes.Status201Created) : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin)
          .WithSummary("Create a rule: aggregation(metric{matchers}[window]) op threshold, for, keepFiringFor, severity, labels, annotation templates.")
          .Produces<RuleView>(StatusCodes.Status201Created);

        rules.MapPost("/preview", async (AlertRuleDraft body, AlertPreview preview, HttpContext http) =>
        {
            var outcome = await preview.RunAsync(http.Principal().TenantId, body, http.RequestAborted);
            return outcome.Succeeded ? Results.Json(outcome.Value!, AlertsApiJsonContext.Default.AlertPreviewResult) : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Viewer, Scopes.AlertsRead)
          .WithSummary("How often a draft rule would have fired over the last 24 hours (the rules editor's preview); nothing is saved.").Produces<AlertPreviewResult>();

        rules.MapGet("/{id}", async (string id, AlertStore store, HttpContext http) =>
            await store.GetAsync(http.Principal().TenantId, id, http.RequestAborted) is { } rule
                ? Saved(http, rule, StatusCodes.Status200OK)
                : Problems.Result(StatusCodes.Status404NotFound, "not-found", "No such rule", $"This tenant has no alert rule '{id}'."))
            .RequireRole(Role.Viewer, Scopes.AlertsRead).WithSummary("One rule; its ETag is its version, for If-Match on PUT.").Produces<RuleView>();

        rules.MapPut("/{id}", async (string id, AlertRuleDraft body, AlertStore store, HttpContext http) =>
        {
            if (!TryIfMatch(http, out var expected))
                return BadIfMatch();
            var outcome = await store.UpdateAsync(http.Principal().TenantId, id, body, expected, http.RequestAborted);
            return outcome.Succeeded ? Saved(http, outcome.Value!, StatusCodes.Status200OK) : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin)
          .WithSummary("Replace a rule (If-Match: its ETag guards against lost updates). A changed condition ends its current alerts (firing ones resolve).")
          .Produces<RuleView>();

        rules.MapDelete("/{id}", async (string id, AlertStore store, HttpContext http) =>
        {
            var outcome = await store.DeleteAsync(http.Principal().TenantId, id, http.RequestAborted);
            return outcome.Succeeded ? Results.NoContent() : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin).WithSummary("Delete a rule: its firing alerts resolve; its history stays.");

        return app;
    }

    /// <summary><c>/api/alerts/receivers</c>: where notifications go. Read: viewers and <c>alerts:read</c> keys (never the
    /// signing secret); write: admins (the secret is shown once, on create); test: operators.</summary>
    private static void MapReceivers(RouteGroupBuilder receivers)
    {
        receivers.MapGet("/", async (AlertReceivers store, HttpContext http) =>
            TypedResults.Json(new ReceiverList((await store.ListAsync(http.Principal().TenantId, http.RequestAborted)).Select(r => ReceiverView.From(r, false)).ToList()),
                AlertsApiJsonContext.Default.ReceiverList))
            .RequireRole(Role.Viewer, Scopes.AlertsRead).WithSummary("The tenant's notification receivers and their grouping.").Produces<ReceiverList>();

        receivers.MapPost("/", async (AlertReceiverDraft body, AlertReceivers store, HttpContext http) =>
        {
            var outcome = await store.CreateAsync(http.Principal().TenantId, body, http.RequestAborted);
            return outcome.Succeeded ? SavedReceiver(http, outcome.Value!, StatusCodes.Status201Created, withSecret: true) : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin)
          .WithSummary("Create a receiver: n8n or webhook (Alertmanager webhook JSON, Standard Webhooks signature; the signingSecret is shown only now), " +
                       "slack (incoming webhook URL) or chatwoot (a private note in a conversation, via a relay route); matchers, groupBy, groupWait, groupInterval, repeatInterval, sendResolved.")
          .Produces<ReceiverView>(StatusCodes.Status201Created);

        receivers.MapGet("/{id}", async (string id, AlertReceivers store, HttpContext http) =>
            await store.GetAsync(http.Principal().TenantId, id, http.RequestAborted) is { } receiver
                ? SavedReceiver(http, receiver, StatusCodes.Status200OK, withSecret: false)
                : Problems.Result(StatusCodes.Status404NotFound, "not-found", "No such receiver", $"This tenant has no alert receiver '{id}'."))
            .RequireRole(Role.Viewer, Scopes.AlertsRead).WithSummary("One receiver; its ETag is its version, for If-Match on PUT.").Produces<ReceiverView>();

        receivers.MapPut("/{id}", async (string id, AlertReceiverDraft body, AlertReceivers store, HttpContext http) =>
        {
            if (!TryIfMatch(http, out var expected))
                return BadIfMatch();
            var outcome = await store.UpdateAsync(http.Principal().TenantId, id, body, expected, http.RequestAborted);
            return outcome.Succeeded ? SavedReceiver(http, outcome.Value!, StatusCodes.Status200OK, withSecret: false) : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin).WithSummary("Replace a receiver (If-Match guards against lost updates); saving enables one disabled by a 410 Gone.").Produces<ReceiverView>();

        receivers.MapDelete("/{id}", async (string id, AlertReceivers store, HttpContext http) =>
        {
            var outcome = await store.DeleteAsync(http.Principal().TenantId, id, http.RequestAborted);
            return outcome.Succeeded ? Results.NoContent() : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin).WithSummary("Delete a receiver and its groups; its queued notifications are dead-lettered.");

        receivers.MapPost("/{id}/test", async (string id, AlertReceivers store, AlertNotifier notifier, HttpContext http) =>
        {
            var principal = http.Principal();
            if (await store.GetAsync(principal.TenantId, id, http.RequestAborted) is not { } receiver)
                return Problems.Result(StatusCodes.Status404NotFound, "not-found", "No such receiver", $"This tenant has no alert receiver '{id}'.");
            var delivery = await notifier.TestAsync(receiver, principal.Name, http.RequestAborted);
            return TypedResults.Json(new TestSent(delivery, $"/api/relay/deliveries/{delivery.ToString(CultureInfo.InvariantCulture)}"), AlertsApiJsonContext.Default.TestSent,
                statusCode: StatusCodes.Status202Accepted);
        }).RequireRole(Role.Operator).WithSummary("Queue a test notification to the receiver; follow its delivery (attempts, errors) at the returned URL.")
          .Produces<TestSent>(StatusCodes.Status202Accepted);
    }

    /// <summary>Reads <c>If-Match</c> (the version a GET's ETag gave); false when it is present and not a version.</summary>
    private static bool TryIfMatch(HttpContext http, out int? expected)
    {
        expected = null;
        if (http.Request.Headers.IfMatch.ToString() is not { Length: > 0 } ifMatch)
            return true;
        if (!int.TryParse(ifMatch.Trim().Trim('"'), NumberStyles.None, CultureInfo.InvariantCulture, out var v))
            return false;
        expected = v;
        return true;
    }

    private static IResult BadIfMatch() => Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid If-Match", "If-Match is the ETag a GET returned, e.g. \"3\".");

    private static JsonHttpResult<RuleView> Saved(HttpContext http, AlertRule rule, int status) =>
        Versioned(http, rule.Version, RuleView.From(rule), AlertsApiJsonContext.Default.RuleView, status);

    private static JsonHttpResult<ReceiverView> SavedReceiver(HttpContext http, AlertReceiver receiver, int status, bool withSecret) =>
        Versioned(http, receiver.Version, ReceiverView.From(receiver, withSecret), AlertsApiJsonContext.Default.ReceiverView, status);

    /// <summary>A versioned resource: its version is the ETag (what <see cref="TryIfMatch"/> reads back).</summary>
    private static JsonHttpResult<T> Versioned<T>(HttpContext http, int version, T body, JsonTypeInfo<T> type, int status)
    {
        http.Response.Headers.ETag = string.Create(CultureInfo.InvariantCulture, $"\"{version}\"");
        return TypedResults.Json(body, type, statusCode: status);
    }
}
