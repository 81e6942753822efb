using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Sentinel.Core.Identity;
using Sentinel.Core.Storage.Tables;

namespace Sentinel.Core.Relay;

/// <summary>
/// Relay routes in Table storage (the directory, ARCHITECTURE.md), with the route's settings as one JSON property:
/// <list type="table">
/// <item><term>{prefix}RelayRoutes</term><description>PK tenant id, RK escaped instance name → the route</description></item>
/// <item><term>{prefix}RelayInstances</term><description>PK escaped instance name, RK <c>instance</c> → tenant id: makes an instance
/// name unique across tenants (its webhook URL names only the instance) and finds the tenant of a webhook in one point read.</description></item>
/// </list>
/// Webhooks read routes through a cache of <see cref="CacheLife"/>; this process's own writes clear it at once.
/// </summary>
internal sealed class RelayRouteStore
{
    public static readonly TimeSpan CacheLife = TimeSpan.FromSeconds(5);

    private readonly TableServiceClient _tables;
    private readonly RelayOptions _options;
    private readonly TimeProvider _time;
    private readonly string _routes;
    private readonly string _instances;
    private readonly ConcurrentDictionary<string, (RelayRoute? Route, long Expires)> _cache = new(StringComparer.Ordinal);
    private readonly TableSet _set;

    public RelayRouteStore(TableServiceClient tables, IdentityOptions identity, RelayOptions options, TimeProvider time)
    {
        _tables = tables;
        _options = options;
        _time = time;
        (_routes, _instances) = (identity.TablePrefix + "RelayRoutes", identity.TablePrefix + "RelayInstances");
        _set = new TableSet(tables, TableNames(identity.TablePrefix));
    }

    /// <summary>The relay's tables for a prefix (the deployment creates them up front).</summary>
    public static string[] TableNames(string prefix) => [prefix + "RelayRoutes", prefix + "RelayInstances"];

    public const int MaxInstanceLength = 100;

    /// <summary>Evolution instance names as they can appear in a URL path segment.</summary>
    public static bool IsInstanceName(string? name) =>
        name is { Length: >= 1 and <= MaxInstanceLength } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && name[0] != '.';

    public async Task<Outcome<RelayRoute>> CreateAsync(Principal caller, RelayRoute route, CancellationToken cancellationToken)
    {
        route.TenantId = caller.TenantId;
        route.CreatedBy = caller.Name;
        route.CreatedAt = route.UpdatedAt = _time.GetUtcNow();
        if (route.Auth == IngressAuth.Path)
            route.PathSecret = Ids.NewSecret();
        if (route.N8n is { SigningSecret: null } n8n)
            n8n.SigningSecret = NewSigningSecret();
        if (RouteRules.Validate(route) is { } invalid)
            return invalid;

        await EnsureTablesAsync(cancellationToken);
        var count = 0;
        await foreach (var _ in _tables.QueryAsync(_routes, TableFilter.PartitionKey(caller.TenantId), ["RowKey"], cancellationToken))
            count++;
        if (count >= _options.MaxRoutesPerTenant)
            return new Failure(FailureKind.Conflict, "limit-reached", "Too many routes", $"A tenant has at most {_options.MaxRoutesPerTenant} relay routes.");

        var claim = new TableEntity(TableKey.Escape(route.Instance), "instance") { ["TenantId"] = caller.TenantId };
        if (!(await _tables.InsertEntityAsync(_instances, claim, cancellationToken)).Succeeded)
            return new Failure(FailureKind.Conflict, "instance-taken", "Instance already routed",
                $"An Evolution instance named '{route.Instance}' already has a route. Instance names are unique across this deployment; rename the instance or update its route.");
        try
        {
            var write = await _tables.InsertEntityAsync(_routes, ToEntity(route), cancellationToken);
            if (!write.Succeeded)
                throw new InvalidOperationException($"Route {route.Instance} existed without its instance claim.");
            route.ETag = write.ETag;
        }
        catch
        {
            await _tables.DeleteEntityAsync(_instances, claim.PartitionKey, claim.RowKey, "*", CancellationToken.None);
            throw;
        }

        _cache.TryRemove(route.Instance, out _);
        return route;
    }

    /// <summary>Replaces a route's settings (not its instance); saving re-enables targets disabled by a 410.</summary>
    public async Task<Outcome<RelayRoute>> UpdateAsync(string tenantId, string instance, RelayRoute update, CancellationToken cancellationToken)
    {
        var current = await GetAsync(tenantId, instance, cancellationToken);
        if (current is null)
            return NotFound(instance);
        update.TenantId = tenantId;
        update.Instance = current.Instance;
        update.CreatedAt = current.CreatedAt;
        update.CreatedBy = current.CreatedBy;
        update.UpdatedAt = _time.GetUtcNow();
        // Secrets the caller did not resend are kept (they are never shown back).
        update.JwtKey ??= update.Auth == IngressAuth.Jwt ? current.JwtKey : null;
        update.HeaderValue ??= update.Auth == IngressAuth.Header ? current.HeaderValue : null;
        update.PathSecret = update.Auth == IngressAuth.Path ? current.PathSecret ?? Ids.NewSecret() : null;
        if (update.Evolution is { } e)
            e.ApiKey ??= current.Evolution?.ApiKey;
        if (update.N8n is { } n)
        {
            n.HeaderValue ??= n.HeaderName is not null && n.HeaderName == current.N8n?.HeaderName ? current.N8n.HeaderValue : null;
            n.SigningSecret ??= current.N8n?.SigningSecret ?? NewSigningSecret();
        }

        if (update.Chatwoot is { } c)
        {
            c.ApiToken ??= current.Chatwoot?.ApiToken;
            c.WebhookSecret ??= current.Chatwoot?.WebhookSecret;
        }

        if (update.Botpress is { } b)
            b.Token ??= current.Botpress?.Token;
        if (RouteRules.Validate(update) is { } invalid)
            return invalid;
        var write = await _tables.UpdateEntityAsync(_routes, ToEntity(update), current.ETag ?? "*", merge: false, cancellationToken);
        if (!write.Succeeded)
            return new Failure(FailureKind.Conflict, "edit-conflict", "Route changed", "The route changed while it was being saved; read it again and retry.");
        update.ETag = write.ETag;
        _cache.TryRemove(instance, out _);
        return update;
    }

    public async Task<Outcome<RelayRoute>> DeleteAsync(string tenantId, string instance, CancellationToken cancellationToken)
    {
        var current = await GetAsync(tenantId, instance, cancellationToken);
        if (current is null)
            return NotFound(instance);
        await _tables.DeleteEntityAsync(_routes, tenantId, TableKey.Escape(current.Instance), "*", cancellationToken);
        await _tables.DeleteEntityAsync(_instances, TableKey.Escape(current.Instance), "instance", "*", cancellationToken);
        _cache.TryRemove(instance, out _);
        return current;
    }

    /// <summary>Marks a target disabled (it answered 410 Gone): nothing more is sent to it until an admin saves the route.</summary>
    public async Task DisableTargetAsync(string tenantId, string instance, string target, string reason, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var route = await GetAsync(tenantId, instance, cancellationToken);
            if (route?.Target(target) is not { } settings || settings.DisabledAt is not null)
                return;
            settings.DisabledAt = _time.GetUtcNow();
            settings.DisabledReason = reason;
            var write = await _tables.UpdateEntityAsync(_routes, ToEntity(route), route.ETag ?? "*", merge: false, cancellationToken);
            _cache.TryRemove(instance, out _);
            if (write.Succeeded)
                return;
        }
    }

    public async Task<RelayRoute?> GetAsync(string tenantId, string instance, CancellationToken cancellationToken)
    {
        if (!IsInstanceName(instance))
            return null;
        await EnsureTablesAsync(cancellationToken);
        return await _tables.GetEntityAsync(_routes, tenantId, TableKey.Escape(instance), cancellationToken) is { } e ? FromEntity(e) : null;
    }

    public async Task<IReadOnlyList<RelayRoute>> ListAsync(string tenantId, CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        var list = new List<RelayRoute>();
        await foreach (var e in _tables.QueryAsync(_routes, TableFilter.PartitionKey(tenantId), null, cancellationToken))
            list.Add(FromEntity(e));
        return list.OrderBy(r => r.Instance, StringComparer.Ordinal).ToList();
    }

    /// <summary>The route of an instance, whatever its tenant (webhooks name only the instance); cached for <see cref="CacheLife"/>.</summary>
    public async ValueTask<RelayRoute?> FindAsync(string instance, CancellationToken cancellationToken)
    {
        if (!IsInstanceName(instance))
            return null;
        var now = Stopwatch.GetTimestamp();
        if (_cache.TryGetValue(instance, out var hit) && hit.Expires > now)
            return hit.Route;
        await EnsureTablesAsync(cancellationToken);
        RelayRoute? route = null;
        if (await _tables.GetEntityAsync(_instances, TableKey.Escape(instance), "instance", cancellationToken) is { } claim)
            route = await GetAsync(claim.GetRequiredString("TenantId"), instance, cancellationToken);
        if (_cache.Count > 10_000)
            _cache.Clear();
        _cache[instance] = (route, now + (long)(CacheLife.TotalSeconds * Stopwatch.Frequency));
        return route;
    }

    public Task EnsureTablesAsync(CancellationToken cancellationToken) => _set.EnsureAsync(cancellationToken);

    public Task DeleteTablesAsync(CancellationToken cancellationToken) => _set.DeleteAsync(cancellationToken);

    /// <summary>A Standard Webhooks signing secret: <c>whsec_</c> and 32 random bytes in base64.</summary>
    public static string NewSigningSecret() => "whsec_" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    private static Failure NotFound(string instance) =>
        new(FailureKind.NotFound, "not-found", "No such route", $"This tenant has no relay route for instance '{instance}'.");

    private static TableEntity ToEntity(RelayRoute route) => new(route.TenantId, TableKey.Escape(route.Instance))
    {
        ["Config"] = JsonSerializer.Serialize(route, RelayRouteJsonContext.Default.RelayRoute),
    };

    private static RelayRoute FromEntity(TableEntity e)
    {
        var route = JsonSerializer.Deserialize(e.GetRequiredString("Config"), RelayRouteJsonContext.Default.RelayRoute)
                    ?? throw new InvalidDataException($"Route {e.RowKey} has no settings.");
        route.ETag = e.ETag;
        return route;
    }
}

/// <summary>What makes a route valid; every message says how to fix it.</summary>
internal static class RouteRules
{
    public static Failure? Validate(RelayRoute r)
    {
        if (!RelayRouteStore.IsInstanceName(r.Instance))
            return Invalid($"instance is the Evolution instance name: 1 to {RelayRouteStore.MaxInstanceLength} letters, digits, '-', '_' or '.'.");
        if (!IngressAuth.IsKnown(r.Auth))
            return Invalid("auth.mode is jwt (Evolution 2.3+ headers.jwt_key), header (a static header) or path (a secret path segment, for the global webhook).");
        if (r.Auth == IngressAuth.Jwt && r.JwtKey is not { Length: >= 16 and <= 512 })
            return Invalid("auth.jwtKey (the instance's headers.jwt_key) is 16 to 512 characters.");
        if (r.Auth == IngressAuth.Header && (!IsHeaderName(r.HeaderName) || r.HeaderValue is not { Length: >= 16 and <= 1024 } || r.HeaderValue.Any(char.IsControl)))
            return Invalid("auth.headerName is a header name and auth.headerValue a secret of 16 to 1024 printable characters.");
        if (r.Bot is not (null or RelayTargets.N8n or RelayTargets.Botpress))
            return Invalid("bot is n8n or botpress.");
        if (r.Bot is { } bot && r.Target(bot) is null)
            return Invalid($"bot is {bot} but the route has no {bot} target.");
        if (r.Evolution is not { } evolution || !IsUrl(evolution.BaseUrl) || evolution.ApiKey is not { Length: >= 8 and <= 512 })
            return Invalid("evolution.baseUrl (the Evolution API server) and evolution.apiKey (the instance token or global key) are required: replies are sent through them.");
        if (r.N8n is { } n8n && (!IsUrl(n8n.Url) || (n8n.HeaderName is not null && (!IsHeaderName(n8n.HeaderName) || n8n.HeaderValue is not { Length: >= 1 and <= 1024 }))))
            return Invalid("n8n.url is the Webhook node's production URL; n8n.headerName and n8n.headerValue (Header Auth) go together.");
        if (r.Chatwoot is { } cw && (!IsUrl(cw.BaseUrl) || cw.AccountId <= 0 || cw.InboxId <= 0 || cw.ApiToken is not { Length: >= 8 and <= 512 }
                                     || cw.WebhookSecret is not { Length: >= 8 and <= 512 }))
            return Invalid("chatwoot needs baseUrl, accountId, inboxId (an API-channel inbox), apiToken and webhookSecret (the inbox's secret; Chatwoot 4.13+ signs its webhooks with it).");
        if (r.Botpress is { } bp && (!IsUrl(bp.BaseUrl) || bp.BotId is not { Length: >= 1 and <= 100 } || !bp.BotId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
            return Invalid("botpress needs baseUrl and botId.");
        foreach (var t in new TargetSettings?[] { r.Evolution, r.N8n, r.Chatwoot, r.Botpress })
        {
            if (t is { TimeoutSeconds: < 1 or > 60 })
                return Invalid("timeoutSeconds is 1 to 60.");
        }

        return null;
    }

    private static bool IsUrl(string? url) =>
        url is { Length: <= 2048 } && Uri.TryCreate(url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" && string.IsNullOrEmpty(u.UserInfo);

    private static bool IsHeaderName(string? name) =>
        name is { Length: >= 1 and <= 64 } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
        && !name.Equals("content-type", StringComparison.OrdinalIgnoreCase) && !name.StartsWith("webhook-", StringComparison.OrdinalIgnoreCase);

    private static Failure Invalid(string detail) => new(FailureKind.Invalid, "validation-failed", "Invalid route", detail);
}
