using System.Globalization;
using Sentinel.Core.Alerts;
using Sentinel.Functions.CustomHandler;

namespace Sentinel.Functions.Functions;

/// <summary><c>alerts-notify</c>, every 10 s: Alertmanager's grouping over the firing alerts — flushes the groups whose
/// <c>group_wait</c> / <c>group_interval</c> has come and queues their notifications in the relay outbox (sent at once by
/// the pump, retried by <c>relay-redrive</c>). A database error answers 500; nothing of the pass was committed, and the
/// next run does it again.</summary>
internal sealed class AlertsNotifyFunction(AlertNotifier notifier) : ITimerFunction
{
    public async Task<InvocationResult> RunAsync(TimerInvocation timer, InvocationContext context, CancellationToken cancellationToken)
    {
        var report = await notifier.RunAsync(cancellationToken);
        return InvocationResult.Ok(string.Create(CultureInfo.InvariantCulture,
            $"alerts-notify: {report.Groups} group(s) flushed, {report.Notifications} notification(s) carrying {report.Alerts} alert(s)"));
    }
}
