namespace Sentinel.Functions.Functions;

/// <summary>A function as the Functions host sees it: its name (= folder = invocation path), trigger and retry policy,
/// plus the handler type that runs it. Declared once, in <see cref="FunctionRegistry"/>.</summary>
internal sealed record FunctionDefinition(string Name, FunctionTrigger Trigger, RetryPolicy? Retry, Type? Handler, string Description);

/// <summary>The trigger binding of a function.</summary>
internal abstract record FunctionTrigger(string BindingName);

/// <summary>An HTTP trigger with its <c>http</c> output: exactly the two bindings that make the host forward or proxy
/// the request to the handler's own routes (shared/research/custom-handler-protocol.md §1.2).</summary>
internal sealed record HttpTrigger(string BindingName, string Route, string AuthLevel, IReadOnlyList<string>? Methods) : FunctionTrigger(BindingName);

/// <summary>An Event Hubs trigger. <c>dataType: string</c> is deliberate: without it the host JSON-deserializes bodies
/// into <c>object[]</c> and a non-JSON body fails the binding (protocol notes §2.b).</summary>
internal sealed record EventHubTrigger(string BindingName, string EventHubName, string Connection, string ConsumerGroup, string Cardinality, string DataType) : FunctionTrigger(BindingName);

/// <summary>A timer trigger on a six-field NCRONTAB schedule (<c>%Setting%</c> references allowed).</summary>
internal sealed record TimerTrigger(string BindingName, string Schedule, bool RunOnStartup, bool UseMonitor) : FunctionTrigger(BindingName);

/// <summary>A function-level retry policy (GA for Timer and Event Hubs triggers).</summary>
internal abstract record RetryPolicy(int MaxRetryCount);

/// <summary><c>exponentialBackoff</c>; <c>MaxRetryCount = -1</c> retries for ever, blocking the partition rather than dropping the batch.</summary>
internal sealed record ExponentialBackoffRetry(int MaxRetryCount, TimeSpan MinimumInterval, TimeSpan MaximumInterval) : RetryPolicy(MaxRetryCount);

/// <summary><c>fixedDelay</c>.</summary>
internal sealed record FixedDelayRetry(int MaxRetryCount, TimeSpan DelayInterval) : RetryPolicy(MaxRetryCount);
