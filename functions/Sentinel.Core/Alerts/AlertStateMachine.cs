namespace Sentinel.Core.Alerts;

/// <summary>The states an instance can be in; inactive instances are not stored.</summary>
internal static class AlertStates
{
    public const string Inactive = "inactive";
    public const string Pending = "pending";
    public const string Firing = "firing";
    public const string Resolved = "resolved";
}

/// <summary>One (rule, series) instance as stored between evaluations.</summary>
internal sealed record AlertInstance(
    string RuleId, string Fingerprint, string TenantId, IReadOnlyDictionary<string, string> Labels, string State,
    DateTimeOffset ActiveAt, DateTimeOffset? FiredAt, DateTimeOffset LastTrueAt, DateTimeOffset EvaluatedAt, double? Value);

/// <summary>What one evaluation did to an instance: its next stored form (null = no row), the change (if any), and the
/// series, value and time it was decided on.</summary>
internal sealed record AlertStep(AlertInstance? Next, string From, string To, string Fingerprint, IReadOnlyDictionary<string, string> Labels, double? Value, DateTimeOffset At)
{
    public bool Changed => From != To;
}

/// <summary>
/// Prometheus's alerting-rule state machine (rules/alerting.go), per instance and evaluation:
/// inactive + true → pending (→ firing at once when <c>for</c> is 0); pending + true for <c>for</c> → firing; pending +
/// false → inactive, dropped silently (no resolved notification); firing + false → still firing while the condition was
/// true within <c>keep_firing_for</c>, else resolved. A series that is missing from an evaluation counts as false.
/// </summary>
internal static class AlertStateMachine
{
    public static AlertStep Step(AlertRule rule, AlertInstance? current, string fingerprint, IReadOnlyDictionary<string, string> labels, double? value, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var holds = value is { } v && rule.Holds(v);
        AlertStep Make(AlertInstance? next, string from, string to) => new(next, from, to, fingerprint, labels, value, now);
        if (current is null)
        {
            if (!holds)
                return Make(null, AlertStates.Inactive, AlertStates.Inactive);
            var firing = rule.For <= TimeSpan.Zero;
            var state = firing ? AlertStates.Firing : AlertStates.Pending;
            return Make(new AlertInstance(rule.Id, fingerprint, rule.TenantId, labels, state, now, firing ? now : null, now, now, value), AlertStates.Inactive, state);
        }

        if (holds)
        {
            if (current.State == AlertStates.Pending && now - current.ActiveAt >= rule.For)
                return Make(current with { State = AlertStates.Firing, FiredAt = now, LastTrueAt = now, EvaluatedAt = now, Value = value, Labels = labels },
                    AlertStates.Pending, AlertStates.Firing);
            return Make(current with { LastTrueAt = now, EvaluatedAt = now, Value = value, Labels = labels }, current.State, current.State);
        }

        if (current.State == AlertStates.Pending)
            return Make(null, AlertStates.Pending, AlertStates.Inactive);
        if (rule.KeepFiringFor > TimeSpan.Zero && now - current.LastTrueAt < rule.KeepFiringFor)
            return Make(current with { EvaluatedAt = now, Value = value ?? current.Value }, AlertStates.Firing, AlertStates.Firing);
        return Make(null, AlertStates.Firing, AlertStates.Resolved);
    }
}
