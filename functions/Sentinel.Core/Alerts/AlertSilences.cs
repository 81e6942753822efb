using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using NpgsqlTypes;
using Sentinel.Core.Identity;
using Sentinel.Core.Monitoring;

namespace Sentinel.Core.Alerts;

/// <summary>A silence (Alertmanager's): alerts whose labels match every matcher are muted from start to end.</summary>
internal sealed record AlertSilence(string Id, string TenantId, IReadOnlyList<string> Matchers, DateTimeOffset StartsAt, DateTimeOffset EndsAt,
    string CreatedBy, string Comment, DateTimeOffset CreatedAt)
{
    /// <summary><c>pending</c> (not started), <c>active</c> or <c>expired</c> at <paramref name="now"/>.</summary>
    public string State(DateTimeOffset now) => now < StartsAt ? "pending" : now < EndsAt ? "active" : "expired";

    // Parsed once: a silence is matched against every alert shown.
    private readonly LabelMatcher[] _parsed = [.. Matchers.Select(m => LabelMatcher.TryParse(m, out var parsed) ? parsed! : null).OfType<LabelMatcher>()];

    public bool Mutes(IReadOnlyDictionary<string, string> labels, DateTimeOffset now) =>
        State(now) == "active" && _parsed.Length == Matchers.Count && _parsed.All(m => AlertSilences.Matches(m, labels));
}

/// <summary>What a caller sends to create a silence.</summary>
internal sealed record AlertSilenceDraft(IReadOnlyList<string>? Matchers, DateTimeOffset? StartsAt, DateTimeOffset? EndsAt, string? Comment);

/// <summary>
/// Silences, tenant-scoped, and the one built-in inhibition: while an agent's <c>Agent silent</c> alert fires, that
/// agent's other alerts are muted (they are consequences, not news). Both are applied where alerts are shown and, with
/// notifications, where they are sent; an alert stays what it is — pending or firing — muted or not.
/// </summary>
internal sealed class AlertSilences(NpgsqlDataSource dataSource, TimeProvider time)
{
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(90);
    public const int MaxCommentLength = 500;
    public const int MaxActivePerTenant = 1000;

    /// <summary>The inhibiting alert: its name, and the label that must be equal on the muted alerts.</summary>
    public const string InhibitingAlert = "Agent silent";
    public const string InhibitEqualLabel = "agent";

    public async Task<Outcome<AlertSilence>> CreateAsync(Principal principal, AlertSilenceDraft draft, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(principal);
        ArgumentNullException.ThrowIfNull(draft);
        var now = time.GetUtcNow();
        var matchers = draft.Matchers ?? [];
        if (matchers.Count is 0 or > 20)
            return Invalid("matchers", "A silence needs 1 to 20 label matchers (name=value, name!=value, name=~regex, name!~regex), e.g. alertname=High CPU.");
        foreach (var m in matchers)
        {
            if (m is null || !LabelMatcher.TryParse(m, out var parsed))
                return Invalid("matchers", $"'{m}' is not a label matcher.");
            if (parsed!.Op.EndsWith('~') && !IsRegex(parsed.Value))
                return Invalid("matchers", $"The regular expression in '{m}' is not valid.");
        }

        // A silence that matches everything (every matcher matches the empty string) would mute the tenant entirely.
        if (matchers.All(m => LabelMatcher.TryParse(m, out var parsed) && Matches(parsed!, new Dictionary<string, string>())))
            return Invalid("matchers", "At least one matcher must require a label value (a silence matching every alert is refused).");
        var starts = draft.StartsAt ?? now;
        if (draft.EndsAt is not { } ends || ends <= starts || ends <= now)
            return Invalid("endsAt", "endsAt is required, after startsAt and in the future.");
        if (ends - starts > MaxDuration)
            return Invalid("endsAt", "A silence lasts at most 90 days.");
        var comment = draft.Comment?.Trim();
        if (string.IsNullOrEmpty(comment) || comment.Length > MaxCommentLength)
            return Invalid("comment", $"comment is required (up to {MaxCommentLength} characters): say why.");

        var silence = new AlertSilence("s_" + Ids.NewId(), principal.TenantId, [.. matchers], starts, ends, principal.SubjectId, comment, now);
        await using var command = dataSource.CreateCommand(
            $"""
            insert into alert_silences (id, tenant_id, matchers, starts_at, ends_at, created_by, comment, created_at)
            select $1, $2, $3, $4, $5, $6, $7, $8
            where (select count(*) from alert_silences where tenant_id = $2 and ends_at > $8) < {MaxActivePerTenant}
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = silence.Id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = silence.TenantId });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(silence.Matchers.ToList(), AlertsJsonContext.Default.ListString), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = silence.StartsAt });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = silence.EndsAt });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = silence.CreatedBy });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = silence.Comment });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
            return new Failure(FailureKind.Conflict, "limit-reached", "Limit reached", $"A tenant has at most {MaxActivePerTenant} unexpired silences.");
        return silence;
    }

    /// <summary>The tenant's silences, newest first; <paramref name="includeExpired"/> adds those that ended in the last 7 days.</summary>
    public async Task<IReadOnlyList<AlertSilence>> ListAsync(string tenantId, bool includeExpired, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand(
            "select id, tenant_id, matchers, starts_at, ends_at, created_by, comment, created_at from alert_silences where tenant_id = $1 and ends_at > $2 order by created_at desc limit 1000");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = includeExpired ? now.AddDays(-7) : now });
        var list = new List<AlertSilence>();
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add(new AlertSilence(r.GetString(0), r.GetString(1), JsonSerializer.Deserialize(r.GetString(2), AlertsJsonContext.Default.ListString) ?? [],
                r.GetFieldValue<DateTimeOffset>(3), r.GetFieldValue<DateTimeOffset>(4), r.GetString(5), r.GetString(6), r.GetFieldValue<DateTimeOffset>(7)));
        }

        return list;
    }

    /// <summary>Ends a silence now (Alertmanager's "expire"); an expired one stays listed for 7 days.</summary>
    public async Task<Outcome<bool>> ExpireAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand(
            "update alert_silences set ends_at = greatest(starts_at, $3) where tenant_id = $1 and id = $2 and ends_at > $3");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1
            ? true
            : new Failure(FailureKind.NotFound, "not-found", "No such silence", $"This tenant has no unexpired silence '{id}'.");
    }

    /// <summary>Why an alert is muted now: the silences matching it and the firing alert inhibiting it (empty: not muted).</summary>
    public static (IReadOnlyList<string> SilencedBy, string? InhibitedBy) Muting(IReadOnlyDictionary<string, string> labels, IReadOnlyList<AlertSilence> silences,
        IReadOnlyList<(AlertInstance Instance, string RuleName)> firing, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var silencedBy = silences.Where(s => s.Mutes(labels, now)).Select(s => s.Id).ToList();
        string? inhibitedBy = null;
        if (labels.TryGetValue("alertname", out var name) && name != InhibitingAlert && labels.TryGetValue(InhibitEqualLabel, out var agent) && agent.Length > 0)
        {
            inhibitedBy = firing.FirstOrDefault(f => f.RuleName == InhibitingAlert && f.Instance.State == AlertStates.Firing
                && f.Instance.Labels.TryGetValue(InhibitEqualLabel, out var a) && a == agent).Instance?.Fingerprint is { } fp ? InhibitingAlert + ":" + fp : null;
        }

        return (silencedBy, inhibitedBy);
    }

    /// <summary>Prometheus matcher semantics: a missing label is "", regexes are anchored.</summary>
    public static bool Matches(LabelMatcher m, IReadOnlyDictionary<string, string> labels)
    {
        ArgumentNullException.ThrowIfNull(m);
        ArgumentNullException.ThrowIfNull(labels);
        var value = labels.TryGetValue(m.Name, out var v) ? v : "";
        return m.Op switch
        {
            "=" => value == m.Value,
            "!=" => value != m.Value,
            "=~" => RegexMatches(m.Value, value),
            _ => !RegexMatches(m.Value, value),
        };
    }

    /// <summary>An anchored match with a time limit; a pattern that runs over it counts as not matching.</summary>
    private static bool RegexMatches(string pattern, string value)
    {
        try
        {
            return Regex.IsMatch(value, "^(?:" + pattern + ")$", RegexOptions.None, TimeSpan.FromMilliseconds(50));
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    /// <summary>Whether a matcher's regular expression compiles (.NET syntax; PostgreSQL's differs in corners and may still refuse it).</summary>
    public static bool IsRegex(string pattern)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromMilliseconds(100));
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static Failure Invalid(string field, string detail) => new(FailureKind.Invalid, "validation-failed", $"Invalid {field}", detail);
}
