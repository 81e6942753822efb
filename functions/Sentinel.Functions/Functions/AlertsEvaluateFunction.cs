using System.Globalization;
using Sentinel.Core.Alerts;
using Sentinel.Functions.CustomHandler;

namespace Sentinel.Functions.Functions;

/// <summary><c>alerts-absent</c>, every minute: evaluates every enabled alert rule over the stored samples — so a series
/// that stopped reporting counts as false and its alert resolves, and <c>for</c> is timed on the minute. A database
/// error answers 500; the next run evaluates again (instances are stored per rule, so nothing is counted twice).</summary>
internal sealed partial class AlertsEvaluateFunction(AlertEvaluator evaluator, ILogger<AlertsEvaluateFunction> logger) : ITimerFunction
{
    public async Task<InvocationResult> RunAsync(TimerInvocation timer, InvocationContext context, CancellationToken cancellationToken)
    {
        var report = await evaluator.EvaluateAsync(null, cancellationToken);
        if (report.Changes > 0)
            LogEvaluated(logger, report.Rules, report.Series, report.Changes, report.Firing, report.Pending);
        return InvocationResult.Ok(string.Create(CultureInfo.InvariantCulture,
            $"alerts: {report.Rules} rule(s) over {report.Series} series: {report.Changes} change(s), {report.Firing} firing, {report.Pending} pending"));
    }

    [LoggerMessage(EventId = 8010, Level = LogLevel.Information, Message = "Alert rules evaluated: {Rules} rules, {Series} series, {Changes} changes, {Firing} firing, {Pending} pending")]
    private static partial void LogEvaluated(ILogger logger, int rules, int series, int changes, int firing, int pending);
}
