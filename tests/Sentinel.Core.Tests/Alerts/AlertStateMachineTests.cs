using Sentinel.Core.Alerts;

namespace Sentinel.Core.Tests.Alerts;

/// <summary>Prometheus's rule semantics, one instance, evaluated once a minute on a manual clock.</summary>
public sealed class AlertStateMachineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
    private static readonly Dictionary<string, string> Labels = new() { ["agent"] = "a1", ["alertname"] = "cpu" };

    private static AlertRule Rule(string @for = "2m", string keep = "0s")
    {
        var outcome = AlertRules.Validate(new AlertRuleDraft("cpu", "cpu.usage", null, "avg", "1m", ">", 90, @for, keep, "critical", null, null, null), "r1", "t1", 1, T0, T0);
        Assert.True(outcome.Succeeded, outcome.Failure?.Detail);
        return outcome.Value!;
    }

    /// <summary>Runs values (null = no data) at one-minute steps from T0; returns the state after each and every change.</summary>
    private static (List<string> States, List<string> Changes) Run(AlertRule rule, params double?[] values)
    {
        AlertInstance? current = null;
        var states = new List<string>();
        var changes = new List<string>();
        for (var i = 0; i < values.Length; i++)
        {
            var step = AlertStateMachine.Step(rule, current, "fp", Labels, values[i], T0.AddMinutes(i));
            current = step.Next;
            states.Add(current?.State ?? (step.To == AlertStates.Resolved ? AlertStates.Resolved : AlertStates.Inactive));
            if (step.Changed)
                changes.Add($"{i}:{step.From}>{step.To}");
        }

        return (states, changes);
    }

    [Fact]
    public void For_NeedsEveryEvaluationTrue()
    {
        // True at 0 and 1, false at 2 (the pending episode is dropped), true again from 3: fires at 5, two minutes after 3.
        var (states, changes) = Run(Rule(), 95, 95, 50, 95, 95, 95, 95);
        Assert.Equal(["pending", "pending", "inactive", "pending", "pending", "firing", "firing"], states);
        Assert.Equal(["0:inactive>pending", "2:pending>inactive", "3:inactive>pending", "5:pending>firing"], changes);
    }

    [Fact]
    public void PendingThatClears_IsDroppedWithoutResolve()
    {
        var (_, changes) = Run(Rule(), 95, 95, 10, 10);
        Assert.DoesNotContain(changes, c => c.EndsWith(">resolved", StringComparison.Ordinal));
        Assert.Equal(["0:inactive>pending", "2:pending>inactive"], changes);
    }

    [Fact]
    public void NoFor_FiresOnTheFirstTrueEvaluation_AndResolvesOnce()
    {
        var (states, changes) = Run(Rule("0s"), 95, 95, 10, 10, null, 10);
        Assert.Equal(["firing", "firing", "resolved", "inactive", "inactive", "inactive"], states);
        Assert.Equal(["0:inactive>firing", "2:firing>resolved"], changes);
    }

    [Fact]
    public void KeepFiringFor_HoldsThroughAFlap_ThenResolvesOnce()
    {
        // Firing from 2; the condition flaps off at 3 and 5 (within keep_firing_for 3m of the last true) — still firing;
        // true last at 4, so from 7 (4 + 3m) it resolves, once.
        var (states, changes) = Run(Rule("2m", "3m"), 95, 95, 95, 10, 95, 10, 10, 10, 10);
        Assert.Equal(["pending", "pending", "firing", "firing", "firing", "firing", "firing", "resolved", "inactive"], states);
        Assert.Equal(["0:inactive>pending", "2:pending>firing", "7:firing>resolved"], changes);
    }

    [Fact]
    public void MissingData_CountsAsFalse()
    {
        var (states, changes) = Run(Rule("0s"), 95, null);
        Assert.Equal(["firing", "resolved"], states);
        Assert.Equal(["0:inactive>firing", "1:firing>resolved"], changes);
    }

    [Theory]
    [InlineData(">", 90, 90, false)]
    [InlineData(">=", 90, 90, true)]
    [InlineData("<", 10, 9.99, true)]
    [InlineData("<=", 10, 10.01, false)]
    [InlineData("==", 0, 0, true)]
    [InlineData("!=", 1, 0, true)]
    public void Comparisons(string op, double threshold, double value, bool holds)
    {
        var rule = Rule() with { Op = op, Threshold = threshold };
        Assert.Equal(holds, rule.Holds(value));
    }
}
