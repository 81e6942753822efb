namespace Sentinel.Core.Identity;

/// <summary>Tenant-scoped roles, each including the ones below it.</summary>
internal enum Role
{
    /// <summary>Reads dashboards and stats.</summary>
    Viewer = 1,

    /// <summary>Also acts on operations: acknowledges alerts, replays deliveries.</summary>
    Operator = 2,

    /// <summary>Also manages users (below owner), API keys and configuration.</summary>
    Admin = 3,

    /// <summary>Everything, including granting owner; a tenant always keeps at least one.</summary>
    Owner = 4,
}

/// <summary>Scopes an API key can carry: machine clients get exactly what they need, never user management.</summary>
internal static class Scopes
{
    /// <summary><c>POST /api/ratelimit/check</c>, the decision service for the chatbot stack.</summary>
    public const string RateLimitCheck = "ratelimit:check";

    /// <summary>Gateway statistics and other read-only dashboards.</summary>
    public const string StatsRead = "stats:read";

    /// <summary>Agents, series and metric queries (read-only).</summary>
    public const string MetricsRead = "metrics:read";

    /// <summary>Relay conversations, deliveries and stats (read-only).</summary>
    public const string RelayRead = "relay:read";

    /// <summary>Relay hand-overs and sends: what an n8n flow needs to pass a conversation to humans or answer it.</summary>
    public const string RelayWrite = "relay:write";

    /// <summary>Alert rules, alerts, their history, receivers and the tenant's insights (read-only).</summary>
    public const string AlertsRead = "alerts:read";

    public static IReadOnlyList<string> All { get; } = [RateLimitCheck, StatsRead, MetricsRead, RelayRead, RelayWrite, AlertsRead];

    public static bool IsKnown(string scope) => All.Contains(scope, StringComparer.Ordinal);
}

internal static class RoleNames
{
    public static string ToName(this Role role) => role switch
    {
        Role.Viewer => "viewer",
        Role.Operator => "operator",
        Role.Admin => "admin",
        Role.Owner => "owner",
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };

    public static bool TryParse(string? name, out Role role)
    {
        role = name switch
        {
            "viewer" => Role.Viewer,
            "operator" => Role.Operator,
            "admin" => Role.Admin,
            "owner" => Role.Owner,
            _ => 0,
        };
        return role != 0;
    }
}
