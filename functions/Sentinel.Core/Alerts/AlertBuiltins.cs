namespace Sentinel.Core.Alerts;

/// <summary>
/// The rules every tenant starts with (editable and deletable like any other; created once per tenant, so a deleted one
/// stays deleted): an agent gone silent, CPU, memory and file systems over 90 %, a probed service down, and relay dead
/// letters. Metrics under <c>sentinel.</c> are computed by the evaluator (<see cref="VirtualMetrics"/>).
/// </summary>
internal static class AlertBuiltins
{
    /// <summary>Bumped when the set changes; a tenant seeded with an older set gets the new rules only.</summary>
    public const int Version = 1;

    public static IReadOnlyList<AlertRuleDraft> All { get; } =
    [
        Draft("Agent silent", VirtualMetrics.AgentSilentIntervals, [], "last", "1m", ">=", 3, "0s", "critical",
            "{{ $labels.agent_name }} has sent nothing for {{ $value }} of its intervals",
            "The agent on {{ $labels.host }} stopped reporting: check the server, its network and `systemctl status sentinel-agent`."),
        Draft("High CPU", "cpu.usage", ["core=total"], "avg", "1m", ">", 90, "5m", "warning",
            "{{ $labels.agent }} CPU at {{ $value }}%", "CPU above 90 % for 5 minutes."),
        Draft("High memory", "mem.used_percent", [], "avg", "1m", ">", 90, "5m", "warning",
            "{{ $labels.agent }} memory at {{ $value }}%", "Memory above 90 % for 5 minutes."),
        Draft("Filesystem almost full", "fs.used_percent", [], "last", "1m", ">", 90, "10m", "warning",
            "{{ $labels.mountpoint }} on {{ $labels.agent }} is {{ $value }}% full", "A file system above 90 % for 10 minutes."),
        Draft("Service down", "probe.up", [], "last", "1m", "<", 1, "2m", "critical",
            "{{ $labels.service }} on {{ $labels.agent }} is down", "A probed service has failed its probe for 2 minutes."),
        Draft("Relay dead letters", VirtualMetrics.RelayDeadLetters, [], "last", "1m", ">", 0, "0s", "warning",
            "{{ $value }} dead letters to {{ $labels.target }} from {{ $labels.instance }}",
            "Deliveries gave up after every retry: fix the target, then replay them from /api/relay/deliveries?state=dead."),
    ];

    private static AlertRuleDraft Draft(string name, string metric, string[] matchers, string aggregation, string window, string op, double threshold,
        string @for, string severity, string summary, string description) =>
        new(name, metric, matchers, aggregation, window, op, threshold, @for, "0s", severity, new Dictionary<string, string> { ["builtin"] = "true" },
            new Dictionary<string, string> { ["summary"] = summary, ["description"] = description }, true);
}
