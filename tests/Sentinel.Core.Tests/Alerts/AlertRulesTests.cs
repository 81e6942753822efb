using Sentinel.Core.Alerts;

namespace Sentinel.Core.Tests.Alerts;

/// <summary>Rule validation, durations and annotation templates.</summary>
public sealed class AlertRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private static AlertRuleDraft Draft(string? name = "High CPU", string? metric = "cpu.usage", string[]? matchers = null, string? aggregation = "avg",
        string? window = "2m", string? op = ">", double? threshold = 90, string? @for = "5m", string? keep = null, string? severity = "critical",
        Dictionary<string, string>? labels = null, Dictionary<string, string>? annotations = null) =>
        new(name, metric, matchers, aggregation, window, op, threshold, @for, keep, severity, labels, annotations, null);

    [Fact]
    public void AValidRule_HasItsExpression()
    {
        var outcome = AlertRules.Validate(Draft(matchers: ["core=total"], annotations: new() { ["summary"] = "{{ $labels.agent }} CPU at {{ $value }}%" }), "r1", "t1", 1, Now, Now);
        Assert.True(outcome.Succeeded, outcome.Failure?.Detail);
        Assert.Equal("avg(cpu.usage{core=total}[2m]) > 90 for 5m", outcome.Value!.Expression);
        Assert.Equal(TimeSpan.FromMinutes(5), outcome.Value.For);
    }

    [Theory]
    [InlineData("name", "")]
    [InlineData("metric", "cpu usage")]
    [InlineData("matchers", "core")]
    [InlineData("matchers", "core=~(")]
    [InlineData("aggregation", "median")]
    [InlineData("window", "5")]
    [InlineData("window", "7h")]
    [InlineData("op", "=>")]
    [InlineData("for", "2 minutes")]
    [InlineData("keepFiringFor", "-1m")]
    [InlineData("severity", "page")]
    [InlineData("labels", "alertname")]
    [InlineData("annotations", "{{ .Labels.host }}")]
    [InlineData("annotations", "{{ $value")]
    public void InvalidFields_AreNamed(string field, string bad)
    {
        var draft = field switch
        {
            "name" => Draft(name: bad),
            "metric" => Draft(metric: bad),
            "matchers" => Draft(matchers: [bad]),
            "aggregation" => Draft(aggregation: bad),
            "window" => Draft(window: bad),
            "op" => Draft(op: bad),
            "for" => Draft(@for: bad),
            "keepFiringFor" => Draft(keep: bad),
            "severity" => Draft(severity: bad),
            "labels" => Draft(labels: new() { [bad] = "x" }),
            _ => Draft(annotations: new() { ["summary"] = bad }),
        };
        var outcome = AlertRules.Validate(draft, "r1", "t1", 1, Now, Now);
        Assert.False(outcome.Succeeded);
        Assert.Equal("validation-failed", outcome.Failure!.Slug);
        Assert.Equal("Invalid " + field, outcome.Failure.Title);
    }

    [Fact]
    public void MissingThreshold_IsRefused() =>
        Assert.Equal("Invalid threshold", AlertRules.Validate(Draft(threshold: null), "r1", "t1", 1, Now, Now).Failure!.Title);

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("5m", 300)]
    [InlineData("1h30m", 5400)]
    [InlineData("1d", 86400)]
    [InlineData("0", 0)]
    [InlineData("0s", 0)]
    public void Durations_ParseAndFormatBack(string text, int seconds)
    {
        Assert.True(AlertRules.TryDuration(text, out var d));
        Assert.Equal(TimeSpan.FromSeconds(seconds), d);
        Assert.True(AlertRules.TryDuration(AlertRules.FormatDuration(d), out var again));
        Assert.Equal(d, again);
    }

    [Theory]
    [InlineData("")]
    [InlineData("m")]
    [InlineData("5x")]
    [InlineData("-5m")]
    [InlineData("5m ")]
    public void BadDurations_AreRefused(string text) => Assert.False(AlertRules.TryDuration(text, out _));

    [Fact]
    public void Templates_ExpandLabelsAndValue()
    {
        var labels = new Dictionary<string, string> { ["host"] = "web-1" };
        Assert.Equal("web-1 CPU at 93.257%", AlertTemplates.Expand("{{ $labels.host }} CPU at {{ $value }}%", labels, 93.2567));
        Assert.Equal("free: 1.235G, missing: ", AlertTemplates.Expand("free: {{ $value | humanize }}, missing: {{ $labels.nope }}", labels, 1_234_567_890));
        Assert.Equal("2.5m", AlertTemplates.Humanize(0.0025));
    }
}
