using Sentinel.Core.Scheduling;

namespace Sentinel.Core.Tests.Scheduling;

public class AppSettingExpressionTests
{
    private static readonly Dictionary<string, string> Settings = new()
    {
        ["HUB"] = "agent-metrics",
        ["Schedules:Retention"] = "0 17 * * * *",
        ["EVERY"] = "*/10",
    };

    private static string? Lookup(string name) => Settings.TryGetValue(name, out var v) ? v : null;

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("%HUB%", "agent-metrics")]
    [InlineData("%EVERY% * * * * *", "*/10 * * * * *")]
    [InlineData("%Schedules__Retention%", "0 17 * * * *")]
    [InlineData("x-%HUB%-%HUB%", "x-agent-metrics-agent-metrics")]
    public void Resolve_References_AreReplaced(string expression, string expected) =>
        Assert.Equal(expected, AppSettingExpression.Resolve(expression, Lookup));

    [Fact]
    public void Resolve_MissingSetting_NamesIt()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => AppSettingExpression.Resolve("%NOPE%", Lookup));
        Assert.Contains("NOPE", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("%HUB")]
    [InlineData("a %% b")]
    public void Resolve_Malformed_Throws(string expression) =>
        Assert.Throws<FormatException>(() => AppSettingExpression.Resolve(expression, Lookup));
}
