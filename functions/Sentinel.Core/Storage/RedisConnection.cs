using StackExchange.Redis;

namespace Sentinel.Core.Storage;

/// <summary>
/// The process's one Redis multiplexer, connected lazily (start-up never waits for Redis) and with
/// <c>AbortOnConnectFail=false</c> so it keeps reconnecting in the background after an outage. StackExchange.Redis
/// 1.2.6 calls take no CancellationToken: callers bound them with <c>WaitAsync</c>.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    private readonly ConfigurationOptions _options;
    private readonly Lock _gate = new();
    private Task<ConnectionMultiplexer>? _connecting;

    public RedisConnection(string connectionString)
    {
        _options = ConfigurationOptions.Parse(connectionString);
        _options.AbortOnConnectFail = false;
        if (!connectionString.Contains("connectTimeout", StringComparison.OrdinalIgnoreCase))
            _options.ConnectTimeout = 2000;
        if (!connectionString.Contains("syncTimeout", StringComparison.OrdinalIgnoreCase))
            _options.SyncTimeout = 2000;
    }

    /// <summary>The multiplexer, connecting on first use.</summary>
    public async Task<ConnectionMultiplexer> GetAsync(CancellationToken cancellationToken)
    {
        Task<ConnectionMultiplexer> connecting;
        lock (_gate)
            connecting = _connecting ??= ConnectAsync(_options);
        try
        {
            return await connecting.WaitAsync(cancellationToken);
        }
        catch (Exception) when (connecting.IsFaulted)
        {
            lock (_gate)
            {
                if (ReferenceEquals(_connecting, connecting))
                    _connecting = null; // try afresh next time
            }

            throw;
        }
    }

    private static async Task<ConnectionMultiplexer> ConnectAsync(ConfigurationOptions options)
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(options);
        // 1.x completes every async call in order on one worker by default, which caps throughput under concurrency;
        // nothing here depends on that order. (2.x dropped the setting and behaves like false.)
        multiplexer.PreserveAsyncOrder = false;
        return multiplexer;
    }

    /// <summary>
    /// Runs <paramref name="operation"/>, bounded by <paramref name="timeout"/>; <c>Reached</c> is false when Redis
    /// could not be reached or answered too late (<c>Error</c> says how), so the caller takes its in-process fallback.
    /// The one place that decides what "Redis is away" means for the fail-open paths (limiter, login throttle,
    /// revocations).
    /// </summary>
    public async Task<(bool Reached, T Value, Exception? Error)> TryAsync<T>(Func<IDatabase, Task<T>> operation, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            var db = await GetDatabaseAsync(cancellationToken);
            return (true, await operation(db).WaitAsync(timeout, cancellationToken), null);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return (false, default!, ex);
        }
    }

    /// <summary>A database handle, connecting on first use.</summary>
    public async Task<IDatabase> GetDatabaseAsync(CancellationToken cancellationToken) => (await GetAsync(cancellationToken)).GetDatabase();

    public async ValueTask DisposeAsync()
    {
        Task<ConnectionMultiplexer>? connecting;
        lock (_gate)
            connecting = _connecting;
        if (connecting is { IsCompletedSuccessfully: true })
            (await connecting).Dispose();
    }
}
