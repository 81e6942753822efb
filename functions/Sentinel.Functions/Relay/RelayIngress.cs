using Microsoft.AspNetCore.Http.Features;
using Sentinel.Core.Identity;
using Sentinel.Core.Relay;
using Sentinel.Core.Storage;
using Sentinel.Functions.Http;
using StackExchange.Redis;

namespace Sentinel.Functions.Relay;

/// <summary>
/// The two webhook doors. Each reads the raw body (bounded), authenticates on the raw bytes before parsing, parses,
/// de-duplicates (Redis first for speed, the PostgreSQL unique constraint for truth), commits the message and its
/// deliveries in one transaction, signals the dispatcher and only then answers 2xx: a 2xx means the message is safe,
/// and the attempt itself happens after the answer, so the sender never waits on n8n, Chatwoot or Botpress. A 4xx is
/// only for what is truly invalid (Evolution stops retrying on 4xx, research §1.5); a store that is down answers 503 so
/// the sender retries.
/// </summary>
internal sealed partial class RelayIngress(
    RelayRouteStore routes, RelayStore store, RelayDispatcher dispatcher, RedisConnection redis, RedisKeys keys, RelayOwnerCache owners, RelayOptions options, TimeProvider time,
    ILogger<RelayIngress> logger)
{
    private static readonly TimeSpan RedisTimeout = TimeSpan.FromMilliseconds(250);

    public async Task<IResult> EvolutionAsync(HttpContext http, string instance, string? rest)
    {
        var ct = http.RequestAborted;
        var body = await ReadBodyAsync(http);
        if (body is null)
            return TooLarge();
        var route = await routes.FindAsync(instance, ct);
        if (route is null)
            return Problems.Result(StatusCodes.Status404NotFound, "unknown-instance", "Unknown instance", $"No relay route for an Evolution instance named '{Cut(instance)}'.");

        // The path after the instance: the secret segment (path auth) and/or the by-events suffix (messages-upsert, …).
        // A secret has the shape the relay generates (52 base32 characters); anything else is the event suffix.
        var segments = (rest ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        var secret = segments.FirstOrDefault(s => Ids.IsSecret(s));
        if (segments.Length > 2 || segments.Length - (secret is null ? 0 : 1) > 1)
            return Problems.Result(StatusCodes.Status404NotFound, "not-found", "Not found", "The path is /api/relay/evolution/{instance}[/{secret}][/{event}].");
        if (Authenticate(route, http.Request, secret) is { } refused)
            return Problems.Result(StatusCodes.Status401Unauthorized, "invalid-webhook-credentials", "Webhook not authenticated", refused);

        if (!EvolutionWebhook.TryParse(body, out var e, out var error))
            return Problems.Result(StatusCodes.Status400BadRequest, "invalid-webhook", "Not an Evolution webhook", error);
        if (!string.Equals(e!.Instance, route.Instance, StringComparison.Ordinal))
        {
            // Only a path-secret route may carry other instances: it is the global webhook of that Evolution server, and
            // the secret proves the server; the instance must still be routed, in the same tenant.
            var other = route.Auth == IngressAuth.Path ? await routes.FindAsync(e.Instance, ct) : null;
            if (other is null || other.TenantId != route.TenantId)
                return Problems.Result(StatusCodes.Status422UnprocessableEntity, "instance-mismatch", "Instance mismatch",
                    $"The webhook is for instance '{Cut(e.Instance)}', which this URL does not route.");
            route = other;
        }

        string? seenKey = null;
        if (e.Message is { } m)
        {
            seenKey = keys.RelaySeen(route.TenantId, "evolution:" + route.Instance, m.KeyId);
            if (await SeenAsync(seenKey, ct))
                return Answer(IngressResult.Duplicate($"message {m.KeyId} of {route.Instance} was already received"));
        }

        var result = await store.AcceptEvolutionAsync(route, e, ct);
        if (result.Deliveries > 0)
            dispatcher.Signal();
        if (seenKey is not null && result.Status != IngressStatus.Ignored)
            await RememberAsync(seenKey);
        return Answer(result);
    }

    public async Task<IResult> ChatwootAsync(HttpContext http, string instance)
    {
        var ct = http.RequestAborted;
        var body = await ReadBodyAsync(http);
        if (body is null)
            return TooLarge();
        var route = await routes.FindAsync(instance, ct);
        if (route?.Chatwoot is not { } chatwoot)
            return Problems.Result(StatusCodes.Status404NotFound, "unknown-instance", "Unknown instance", $"No relay route with a Chatwoot target for instance '{Cut(instance)}'.");
        var headers = http.Request.Headers;
        if (ChatwootWebhook.VerifySignature(headers["X-Chatwoot-Signature"].ToString(), headers["X-Chatwoot-Timestamp"].ToString(), body, chatwoot.WebhookSecret!,
                time.GetUtcNow(), options.SignatureTolerance) is { } refused)
            return Problems.Result(StatusCodes.Status401Unauthorized, "invalid-signature", "Signature not valid", refused);
        if (!ChatwootWebhook.TryParse(body, out var e, out var error))
            return Problems.Result(StatusCodes.Status400BadRequest, "invalid-webhook", "Not a Chatwoot webhook", error);

        var delivery = headers["X-Chatwoot-Delivery"].ToString() is { Length: > 0 and <= 128 } d ? d : null;
        string? seenKey = null;
        if (delivery is not null)
        {
            seenKey = keys.RelaySeen(route.TenantId, "chatwoot", delivery);
            if (await SeenAsync(seenKey, ct))
                return Answer(IngressResult.Duplicate($"Chatwoot delivery {delivery} was already received"));
        }

        var result = await store.AcceptChatwootAsync(route, delivery, e!, ct);
        if (result.Deliveries > 0)
            dispatcher.Signal();
        // Chatwoot may have moved the owner: the Redis copy goes, the next read takes it from PostgreSQL.
        if (result is { Status: IngressStatus.Stored, ConversationId: { } conversation })
            await owners.ForgetAsync(route.TenantId, conversation);
        if (seenKey is not null)
            await RememberAsync(seenKey);
        return Answer(result);
    }

    /// <summary>Null when the route accepts the request; otherwise why not (never echoing what was sent).</summary>
    private string? Authenticate(RelayRoute route, HttpRequest request, string? pathSecret) => route.Auth switch
    {
        IngressAuth.Jwt => EvolutionWebhook.VerifyJwt(request.Headers.Authorization.ToString() is { Length: > 0 } a ? a : null, route.JwtKey!, time.GetUtcNow()),
        IngressAuth.Header => EvolutionWebhook.SecretEquals(request.Headers[route.HeaderName!].ToString(), route.HeaderValue)
            ? null
            : $"The '{route.HeaderName}' header is missing or wrong (set it in the instance's webhook headers).",
        IngressAuth.Path => EvolutionWebhook.SecretEquals(pathSecret, route.PathSecret) ? null : "The secret path segment is missing or wrong.",
        _ => "The route has no usable authentication.",
    };

    private async Task<bool> SeenAsync(string key, CancellationToken ct)
    {
        var (reached, exists, failure) = await redis.TryAsync(db => db.KeyExistsAsync(key), RedisTimeout, ct);
        if (!reached)
            LogRedisAway(logger, failure?.GetType().Name ?? "timeout");
        return reached && exists;
    }

    private async Task RememberAsync(string key)
    {
        // After the commit: had it been set before, a failed commit would turn the sender's retry into a "duplicate".
        await redis.TryAsync(db => db.StringSetAsync(key, "1", options.DedupeTtl, When.Always, CommandFlags.FireAndForget), RedisTimeout, CancellationToken.None);
    }

    /// <summary>A body over the limit is still read (and dropped) up to this size, so a sender that is still writing gets
    /// the 413 instead of a reset connection; beyond it the connection is cut.</summary>
    private const long DrainLimit = 16 * 1024 * 1024;

    /// <summary>The body, or null when it is larger than <see cref="RelayOptions.MaxBodyBytes"/>.</summary>
    private async Task<byte[]?> ReadBodyAsync(HttpContext http)
    {
        if (http.Request.ContentLength > DrainLimit)
            return null;
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = Math.Max(options.MaxBodyBytes, DrainLimit) + 1;
        return await RequestBodies.ReadBoundedAsync(http.Request.Body, options.MaxBodyBytes, DrainLimit, http.RequestAborted);
    }

    private IResult TooLarge() =>
        Problems.Result(StatusCodes.Status413PayloadTooLarge, "payload-too-large", "Webhook too large",
            $"Webhook bodies are limited to {options.MaxBodyBytes} bytes (Relay:MaxBodyBytes); turn off base64 media on the instance or raise the limit.");

    private static Microsoft.AspNetCore.Http.HttpResults.JsonHttpResult<IngressAnswer> Answer(IngressResult r) => TypedResults.Json(
        new IngressAnswer(r.Status.ToString().ToLowerInvariant(), r.Decision, r.ConversationId, r.MessageId, r.Deliveries), RelayJsonContext.Default.IngressAnswer);

    private static string Cut(string s) => s.Length <= 100 ? s : s[..100];

    [LoggerMessage(EventId = 7010, Level = LogLevel.Warning, Message = "Relay de-dup fast path skipped: Redis unreachable ({Reason}); PostgreSQL still de-duplicates")]
    private static partial void LogRedisAway(ILogger logger, string reason);
}
