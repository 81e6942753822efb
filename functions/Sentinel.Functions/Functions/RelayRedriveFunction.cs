using System.Globalization;
using Sentinel.Core.Relay;
using Sentinel.Functions.CustomHandler;

namespace Sentinel.Functions.Functions;

/// <summary><c>relay-redrive</c>, every 10 s: sends the relay deliveries that have come due (retries on their backoff,
/// replays, anything a stopped process left leased), for up to 45 s. A database error answers 500; the next run resumes.</summary>
internal sealed partial class RelayRedriveFunction(RelayDispatcher dispatcher, ILogger<RelayRedriveFunction> logger) : ITimerFunction
{
    public async Task<InvocationResult> RunAsync(TimerInvocation timer, InvocationContext context, CancellationToken cancellationToken)
    {
        var report = await dispatcher.DrainAsync(TimeSpan.FromSeconds(45), cancellationToken);
        if (report.Attempts > 0)
            LogRedrive(logger, report.Attempts, report.Delivered, report.Retried, report.Dead);
        return InvocationResult.Ok(string.Create(CultureInfo.InvariantCulture,
            $"relay-redrive: {report.Attempts} attempt(s): {report.Delivered} delivered, {report.Retried} to retry, {report.Dead} dead-lettered"));
    }

    [LoggerMessage(EventId = 7030, Level = LogLevel.Debug, Message = "Relay re-drive: {Attempts} attempts, {Delivered} delivered, {Retried} to retry, {Dead} dead")]
    private static partial void LogRedrive(ILogger logger, int attempts, int delivered, int retried, int dead);
}
