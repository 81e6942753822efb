using System.Diagnostics;
using Sentinel.Core.Storage;
using Sentinel.Functions.Diagnostics;
using Sentinel.Functions.Functions;

namespace Sentinel.Functions.CustomHandler;

/// <summary>The HTTP status and envelope to send back to the host.</summary>
internal readonly record struct DispatchOutcome(int StatusCode, byte[] Body);

/// <summary>
/// Runs one invocation: parse the envelope, find the function in the registry, call its handler, and turn the result
/// into the status the host understands (200 = done, non-2xx = failed, retry per policy). Used by
/// <c>POST /{FunctionName}</c> under the host and, in-process, by the standalone host's timers and Event Hubs endpoint,
/// so both paths run the same code on the same bytes.
/// </summary>
internal sealed partial class InvocationDispatcher(
    IServiceProvider services,
    RejectedEventStore rejected,
    SentinelMetrics metrics,
    ILogger<InvocationDispatcher> logger)
{
    /// <summary>Never throws but for cancellation: every failure becomes a non-2xx outcome the caller can act on.</summary>
    public async Task<DispatchOutcome> DispatchAsync(FunctionDefinition function, ReadOnlyMemory<byte> body, string invocationId, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        InvocationResult result;
        try
        {
            result = await RunOrRejectAsync(function, body, invocationId, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // A database or network failure, or a bug: either way answer non-2xx, so nothing is acknowledged that
            // was not done and the host's retry policy runs the invocation again.
            LogTransient(logger, ex, function.Name, invocationId);
            result = InvocationResult.Retry($"transient failure, retry requested: {ex.GetType().Name}: {ex.Message}");
        }

        var outcome = result.Succeeded ? "succeeded" : "retry";
        metrics.RecordInvocation(function.Name, outcome, Stopwatch.GetElapsedTime(started));
        // 500 rather than 503: the host treats every non-2xx alike, and a 5xx reads right in its logs.
        return new DispatchOutcome(result.Succeeded ? StatusCodes.Status200OK : StatusCodes.Status500InternalServerError, result.ToEnvelope());
    }

    private async Task<InvocationResult> RunOrRejectAsync(FunctionDefinition function, ReadOnlyMemory<byte> body, string invocationId, CancellationToken cancellationToken)
    {
        try
        {
            return await RunAsync(function, body, invocationId, cancellationToken);
        }
        catch (InvocationPayloadException ex)
        {
            // A payload that cannot be understood will not be understood on retry either: record it, acknowledge it.
            // If recording fails, that exception is a retry like any other: nothing is acknowledged unrecorded.
            LogRejected(logger, function.Name, invocationId, ex.Message);
            await rejected.RecordAsync(null, function.Name, $"invocation {invocationId}", ex.Message, body, cancellationToken);
            return InvocationResult.Ok($"rejected: {ex.Message}");
        }
    }

    private async Task<InvocationResult> RunAsync(FunctionDefinition function, ReadOnlyMemory<byte> body, string invocationId, CancellationToken cancellationToken)
    {
        using var request = InvocationRequest.Parse(body);
        var context = new InvocationContext(function.Name, invocationId, request.RetryCount);
        switch (function.Trigger)
        {
            case EventHubTrigger trigger:
                var batch = EventHubBatch.Parse(request, trigger.BindingName);
                return await services.GetRequiredKeyedService<IEventHubFunction>(function.Name).RunAsync(batch, context, cancellationToken);
            case TimerTrigger trigger:
                var timer = TimerInvocation.Parse(request, trigger.BindingName);
                return await services.GetRequiredKeyedService<ITimerFunction>(function.Name).RunAsync(timer, context, cancellationToken);
            case HttpTrigger:
                return await services.GetRequiredKeyedService<IHttpEnvelopeFunction>(function.Name).RunAsync(request, context, cancellationToken);
            default:
                throw new InvalidOperationException($"No dispatch for trigger {function.Trigger.GetType().Name}.");
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Rejected invocation {InvocationId} of {Function}: {Reason}")]
    private static partial void LogRejected(ILogger logger, string function, string invocationId, string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "Invocation {InvocationId} of {Function} failed; asking the host to retry")]
    private static partial void LogTransient(ILogger logger, Exception exception, string function, string invocationId);
}
