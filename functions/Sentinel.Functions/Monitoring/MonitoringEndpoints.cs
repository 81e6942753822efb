using System.Globalization;
using Microsoft.Extensions.Options;
using Sentinel.Contracts.EventHubs;
using Sentinel.Core.Identity;
using Sentinel.Core.Monitoring;
using Sentinel.Functions.Functions;
using Sentinel.Functions.Gateway;
using Sentinel.Functions.Http;
using Sentinel.Functions.Standalone;

namespace Sentinel.Functions.Monitoring;

/// <summary><c>/api/agents</c> and <c>/api/metrics</c>: the agent inventory and its keys, the series catalogue and range queries.</summary>
internal static class MonitoringEndpoints
{
    public static IEndpointRouteBuilder MapMonitoringEndpoints(this IEndpointRouteBuilder app)
    {
        var agents = app.MapGroup("/api/agents").WithTags("agents");

        agents.MapGet("/", async (AgentRegistry registry, MonitoringOptions options, TimeProvider time, HttpContext http) =>
        {
            var now = time.GetUtcNow();
            var list = (await registry.ListAsync(http.Principal().TenantId, http.RequestAborted)).Select(a => AgentView.From(a, now, options.OfflineAfterIntervals)).ToList();
            return TypedResults.Json(new AgentList(list, list.Count(a => a.Status == "online"), list.Count(a => a.Status == "offline")), MonitoringJsonContext.Default.AgentList);
        }).RequireRole(Role.Viewer, Scopes.MetricsRead)
          .WithSummary("The tenant's agents: online / offline / never seen / revoked, last seen, version, host facts.").Produces<AgentList>();

        agents.MapPost("/", async (RegisterAgentRequest body, AgentRegistry registry, MonitoringOptions options, TimeProvider time, IConfiguration configuration, HttpContext http) =>
        {
            var outcome = await registry.RegisterAsync(http.Principal(), body.Name, http.RequestAborted);
            return outcome.Succeeded
                ? KeyAnswer(outcome.Value!, options, time, configuration, http, StatusCodes.Status201Created)
                : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin)
          .WithSummary("Register an agent: its id, its key (in this answer only) and the command that installs it.").Produces<AgentKeyResponse>(StatusCodes.Status201Created);

        agents.MapGet("/{id}", async (string id, AgentRegistry registry, MonitoringOptions options, TimeProvider time, HttpContext http) =>
        {
            var outcome = await registry.GetAsync(http.Principal().TenantId, id, http.RequestAborted);
            return outcome.Succeeded
                ? TypedResults.Json(AgentView.From(outcome.Value!, time.GetUtcNow(), options.OfflineAfterIntervals), MonitoringJsonContext.Default.AgentView)
                : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Viewer, Scopes.MetricsRead).WithSummary("One agent.").Produces<AgentView>();

        agents.MapPost("/{id}/rotate", async (string id, AgentRegistry registry, MonitoringOptions options, TimeProvider time, IConfiguration configuration, HttpContext http) =>
        {
            var outcome = await registry.RotateAsync(http.Principal().TenantId, id, http.RequestAborted);
            return outcome.Succeeded
                ? KeyAnswer(outcome.Value!, options, time, configuration, http, StatusCodes.Status200OK)
                : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin)
          .WithSummary("A new key version for the agent (in this answer only); the previous one keeps working for Monitoring:KeyRotationGrace.")
          .Produces<AgentKeyResponse>();

        agents.MapDelete("/{id}", async (string id, AgentRegistry registry, MonitoringOptions options, TimeProvider time, HttpContext http) =>
        {
            var outcome = await registry.RevokeAsync(http.Principal().TenantId, id, http.RequestAborted);
            return outcome.Succeeded
                ? TypedResults.Json(AgentView.From(outcome.Value!, time.GetUtcNow(), options.OfflineAfterIntervals), MonitoringJsonContext.Default.AgentView)
                : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin)
          .WithSummary("Revoke the agent: its batches are rejected from now on (idempotent); its data stays.").Produces<AgentView>();

        var metrics = app.MapGroup("/api/metrics").WithTags("metrics");

        metrics.MapGet("/series", async (string? metric, string? agent, string[]? match, int? limit, MetricQueries queries, HttpContext http) =>
        {
            var outcome = await queries.SeriesAsync(http.Principal().TenantId, metric, agent, match ?? [], limit ?? 1000, http.RequestAborted);
            return outcome.Succeeded
                ? TypedResults.Json(new SeriesList(outcome.Value!.Select(s => new SeriesView(s.Id, s.AgentId, s.Name, s.Labels)).ToList()), MonitoringJsonContext.Default.SeriesList)
                : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Viewer, Scopes.MetricsRead)
          .WithSummary("The series catalogue: metric, agent and label matchers (match=core=total, match=mount=~/var.*) filter it.").Produces<SeriesList>();

        metrics.MapGet("/query", async (string? metric, string? agent, string[]? match, string? from, string? to, string? step, string? agg,
            MetricQueries queries, HttpContext http) =>
        {
            if (!TryParseTime(from, out var f) || !TryParseTime(to, out var t))
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid time", "from and to are RFC 3339 times (2026-11-22T10:00:00Z) or Unix seconds.");
            int? stepSeconds = null;
            if (step is not null)
            {
                if (int.TryParse(step, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                    stepSeconds = n;
                else if (Sentinel.Core.RequestLog.GatewayStats.TryParseDuration(step, out var s))
                    stepSeconds = (int)Math.Min(int.MaxValue, s.TotalSeconds);
                else
                    return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid step", "step is seconds (60) or a duration (30s, 5m, 1h).");
            }

            var outcome = await queries.RangeAsync(http.Principal().TenantId, metric, agent, match ?? [], f, t, stepSeconds, agg, http.RequestAborted);
            if (!outcome.Succeeded)
                return GatewayResults.Problem(outcome.Failure!);
            var r = outcome.Value!;
            return TypedResults.Json(new QueryResponse(metric!, agg ?? "avg", r.Resolution, r.StepSeconds, r.From, r.To,
                r.Series.Select(s => new QuerySeries(s.Series.Id, s.Series.AgentId, s.Series.Labels, s.Points.Select(p => new[] { p.Time, p.Value }).ToList())).ToList()),
                MonitoringJsonContext.Default.QueryResponse);
        }).RequireRole(Role.Viewer, Scopes.MetricsRead)
          .WithSummary("A range query: metric, agent, label matchers, from/to (default the last hour), step, agg (avg, min, max, sum, count, last); raw samples up to 6 h, 1-minute roll-ups up to 8 days, 1-hour beyond.")
          .Produces<QueryResponse>();

        return app;
    }

    private static GatewayResults.NoStore KeyAnswer(AgentCredential credential, MonitoringOptions options, TimeProvider time, IConfiguration configuration, HttpContext http, int status)
    {
        var agent = credential.Agent;
        var hub = configuration[FunctionRegistry.MetricsHubSetting] ?? "agent-metrics";
        var install = string.Create(CultureInfo.InvariantCulture,
            $"sudo ./sentinel-agent install --agent {agent.Id} --key-version {agent.KeyVersion} --key {credential.Key} --hub {hub} --connection '{AgentConnectionString(options, http)}'");
        var body = new AgentKeyResponse(AgentView.From(agent, time.GetUtcNow(), options.OfflineAfterIntervals), credential.Key, agent.KeyVersion, install);
        return new GatewayResults.NoStore(TypedResults.Json(body, MonitoringJsonContext.Default.AgentKeyResponse, statusCode: status));
    }

    /// <summary>The send-only connection string agents use: configured (Key Vault in Azure), else this standalone host's own endpoint.</summary>
    private static string AgentConnectionString(MonitoringOptions options, HttpContext http)
    {
        if (!string.IsNullOrWhiteSpace(options.AgentConnectionString) && EventHubsConnectionString.TryParse(options.AgentConnectionString, out _))
            return options.AgentConnectionString;
        if (http.RequestServices.GetService<EventHubsEmulator>() is not null
            && http.RequestServices.GetRequiredService<IOptions<StandaloneOptions>>().Value is { EventHubKey: { Length: > 0 } key } standalone)
            return $"Endpoint=http://{http.Request.Host}/;SharedAccessKeyName={standalone.EventHubKeyName};SharedAccessKey={key}";
        return "<send-only connection string: Key Vault secret agent-send-connection>";
    }

    /// <summary>RFC 3339 or Unix seconds; null stays null.</summary>
    internal static bool TryParseTime(string? text, out DateTimeOffset? value)
    {
        value = null;
        if (string.IsNullOrEmpty(text))
            return true;
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds <= 253402300799)
        {
            value = DateTimeOffset.FromUnixTimeSeconds(seconds);
            return true;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
        {
            value = t;
            return true;
        }

        return false;
    }
}
