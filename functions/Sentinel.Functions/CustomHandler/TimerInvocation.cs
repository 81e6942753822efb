using System.Text.Json;

namespace Sentinel.Functions.CustomHandler;

/// <summary>
/// A timer invocation: <c>Data.{binding}</c> is the host's TimerInfo as an object (not double-encoded):
/// <c>{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last","Next","LastUpdated"}|null,"IsPastDue":false}</c>.
/// ScheduleStatus is null without a schedule monitor, and <c>Last</c> is <c>0001-01-01</c> on a first run (host #7391).
/// </summary>
internal sealed record TimerInvocation(DateTimeOffset? Last, DateTimeOffset? Next, bool IsPastDue)
{
    /// <summary>Reads the timer info; a missing or odd value reads as "no status, not past due" — a timer must still run.</summary>
    public static TimerInvocation Parse(InvocationRequest request, string bindingName)
    {
        if (!request.TryGetData(bindingName, out var timer) || timer.ValueKind != JsonValueKind.Object)
            return new TimerInvocation(null, null, false);
        var pastDue = PayloadValue.TryGetProperty(timer, "IsPastDue", out var p) && PayloadValue.AsBoolean(p) == true;
        if (!PayloadValue.TryGetProperty(timer, "ScheduleStatus", out var status) || status.ValueKind != JsonValueKind.Object)
            return new TimerInvocation(null, null, pastDue);
        return new TimerInvocation(
            PayloadValue.TryGetProperty(status, "Last", out var last) ? PayloadValue.AsTime(last) : null,
            PayloadValue.TryGetProperty(status, "Next", out var next) ? PayloadValue.AsTime(next) : null,
            pastDue);
    }
}
