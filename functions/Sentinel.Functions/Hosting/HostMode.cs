namespace Sentinel.Functions.Hosting;

/// <summary>How the process runs: under the Functions host, or on its own.</summary>
internal enum HostMode
{
    /// <summary><c>serve</c>: behind the Functions host on <c>127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT</c>.</summary>
    Functions,
    /// <summary><c>serve --standalone</c>: its own Kestrel, timers, Event Hubs send endpoint and the dashboard.</summary>
    Standalone,
}

/// <summary>Facts about this process for <c>/api/version</c>.</summary>
internal sealed record HostInfo(HostMode Mode, DateTimeOffset StartedAt);
