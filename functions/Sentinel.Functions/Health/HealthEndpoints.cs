using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using Npgsql;
using Sentinel.Core.RateLimiting;
using Sentinel.Core.RequestLog;
using Sentinel.Core.Storage;
using Sentinel.Core.Storage.Tables;
using Sentinel.Core.Monitoring;
using Sentinel.Functions.Gateway;
using Sentinel.Functions.Hosting;
using Sentinel.Functions.Http;

namespace Sentinel.Functions.Health;

/// <summary>One dependency's state: <c>up</c> or <c>down</c>, how long the check took, and why it failed.</summary>
internal sealed record DependencyHealth(string Name, string Status, double LatencyMs, string? Error);

/// <summary>The whole answer of <c>GET /api/health</c>.</summary>
internal sealed record HealthReport(string Status, IReadOnlyList<DependencyHealth> Dependencies, IReadOnlyList<string> Down, GatewayHealth? Gateway = null,
    IngestHealth? Ingest = null, RelayHealth? Relay = null);

/// <summary>This instance's relay dispatcher since it started: deliveries sent, failed attempts, dead letters, and how
/// many targets have their circuit breaker open now (a count: this answer is anonymous, tenants' instances are not named).</summary>
internal sealed record RelayHealth(long Delivered, long FailedAttempts, long DeadLettered, int OpenBreakers);

/// <summary>This instance's metric ingest since it started: batches stored, duplicates, rejected, samples, the last
/// stored batch's time, and the series the catalogue has cached.</summary>
internal sealed record IngestHealth(long Batches, long Duplicates, long Rejected, long Samples, DateTimeOffset? LastStoredAt, int SeriesCached);

/// <summary>
/// The gateway's own state: where rate-limit decisions are made (<c>redis</c>, or <c>in-process</c> while failing
/// open), since when, how many decisions were made in process; and the request log's queue.
/// </summary>
internal sealed record GatewayHealth(string RateLimiting, DateTimeOffset? DegradedSince, long FailOpenDecisions, long FailOpenEpisodes,
    int RequestLogPending, long RequestLogWritten, long RequestLogDropped, long RequestLogFailedBatches);

/// <summary>The answer of <c>GET /api/version</c>.</summary>
internal sealed record VersionInfo(string Name, string Version, string Mode, string Runtime, DateTimeOffset StartedAt);

/// <summary>
/// Checks PostgreSQL (<c>select 1</c>), Redis (<c>PING</c>) and Table storage (list one table) in parallel, each bounded
/// by a timeout, and reports their latencies; any dependency down makes the answer 503 and names it.
/// </summary>
internal sealed class DependencyChecks(NpgsqlDataSource postgres, RedisConnection redis, TableServiceClient tables, Hosting.SchemaState schema)
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task<HealthReport> CheckAsync(CancellationToken cancellationToken)
    {
        var results = await Task.WhenAll(
            CheckAsync("postgres", async ct =>
            {
                await using var command = postgres.CreateCommand("select 1");
                await command.ExecuteScalarAsync(ct);
                if (schema.Problem is { } problem)
                    throw new InvalidOperationException(problem);
            }, cancellationToken),
            CheckAsync("redis", async ct =>
            {
                var db = await redis.GetDatabaseAsync(ct);
                await db.PingAsync().WaitAsync(ct);
            }, cancellationToken),
            CheckAsync("tables", tables.PingAsync, cancellationToken));
        var down = results.Where(r => r.Status != "up").Select(r => r.Name).ToArray();
        return new HealthReport(down.Length == 0 ? "healthy" : "unhealthy", results, down);
    }

    private static async Task<DependencyHealth> CheckAsync(string name, Func<CancellationToken, Task> check, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        string? error = null;
        try
        {
            await check(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            error = $"no answer within {Timeout.TotalSeconds:0} s";
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Messages of these clients name the endpoint, never the password.
            error = $"{ex.GetType().Name}: {ex.Message}";
        }

        var ms = Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 2);
        return new DependencyHealth(name, error is null ? "up" : "down", ms, error);
    }
}

internal static class HealthEndpoints
{
    private static readonly string Version =
        typeof(HealthEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api");
        api.MapGet("/health", async (DependencyChecks checks, RateLimiter limiter, RequestLogWriter log, MetricIngest ingest, SeriesCatalogue series,
            Sentinel.Core.Relay.RelayDispatcher relay, HttpContext http, CancellationToken ct) =>
        {
            var report = await checks.CheckAsync(ct) with
            {
                Gateway = new GatewayHealth(limiter.IsDegraded ? "in-process" : "redis", limiter.DegradedSince, limiter.FailOpenDecisions, limiter.FailOpenEpisodes,
                    log.Pending, log.Written, log.Dropped, log.FailedBatches),
                Ingest = new IngestHealth(ingest.Stored, ingest.Duplicates, ingest.Rejected, ingest.Samples, ingest.LastStoredAt, series.Cached),
                Relay = new RelayHealth(relay.Delivered, relay.Failed, relay.DeadLettered, relay.OpenBreakerCount),
            };
            http.Response.Headers.CacheControl = "no-store";
            return TypedResults.Json(report, ApiJsonContext.Default.HealthReport,
                statusCode: report.Down.Count == 0 ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        }).Anonymous().WithTags("health").WithSummary("Dependencies up or down with latencies (503 naming what is down), the gateway's fail-open state, this instance's metric ingest and relay dispatcher.")
          .Produces<HealthReport>().Produces<HealthReport>(StatusCodes.Status503ServiceUnavailable);
        api.MapGet("/version", (HostInfo info) => TypedResults.Json(new VersionInfo(
            "sentinel-functions",
            Version,
            info.Mode == HostMode.Standalone ? "standalone" : "functions",
            RuntimeInformation.FrameworkDescription,
            info.StartedAt), ApiJsonContext.Default.VersionInfo))
          .Anonymous().WithTags("health").WithSummary("Name, version, mode and runtime.").Produces<VersionInfo>();
        return app;
    }
}
