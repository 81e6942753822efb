using Microsoft.Extensions.Options;
using Sentinel.Core.Configuration;
using Sentinel.Core.Storage;

namespace Sentinel.Functions.Hosting;

/// <summary>Section <c>Migrations</c>: the schema is brought up to date when the handler starts (docs/deployment.md).</summary>
[SettingsSection("Migrations")]
internal sealed class MigrationOptions
{
    /// <summary>Apply missing migrations at start. Default true: a deployment needs no separate migration step.</summary>
    public bool OnStart { get; set; } = true;

    /// <summary>How long start waits for them before serving anyway (and retrying in the background). Default 20 s,
    /// inside Flex Consumption's 30 s initialization limit.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Pause between background attempts while the database is unreachable. Default 15 s.</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>What the schema is known to be; <c>/api/health</c> reports a schema that could not be brought up to date.</summary>
internal sealed class SchemaState
{
    private volatile string? _problem;

    /// <summary>Why the schema is not current, or null when it is (or migrations are not run by this process).</summary>
    public string? Problem => _problem;

    public void Set(string? problem) => _problem = problem;
}

/// <summary>
/// Applies the embedded migrations when the handler starts: every instance of a scaled-out app runs this, the
/// migrator's advisory lock serializes them and its ledger makes the late ones no-ops. Start waits up to
/// <see cref="MigrationOptions.StartTimeout"/>, so the first requests find the schema; an unreachable database does not
/// keep the handler from serving (health says why) — attempts continue in the background until one succeeds. A changed
/// migration is a packaging error: it is reported and not retried.
/// </summary>
internal sealed partial class StartupMigrations(PostgresMigrator migrator, SchemaState state, IOptions<MigrationOptions> options, TimeProvider time, ILogger<StartupMigrations> logger)
    : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _background;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.OnStart)
            return;
        state.Set("migrations have not run yet");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.StartTimeout);
        if (await TryMigrateAsync(timeout.Token) is not false)
            return;
        _background = Task.Run(() => RetryAsync(o.RetryInterval, _stopping.Token), CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_background is not null)
            await _background.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose() => _stopping.Dispose();

    private async Task RetryAsync(TimeSpan interval, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, time, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (await TryMigrateAsync(stopping) is not false)
                return;
        }
    }

    /// <summary>True when the schema is current, null when retrying is pointless, false to try again.</summary>
    private async Task<bool?> TryMigrateAsync(CancellationToken cancellationToken)
    {
        try
        {
            var report = await migrator.MigrateAsync(cancellationToken);
            state.Set(null);
            LogCurrent(logger, report.Applied.Count, report.AlreadyApplied);
            return true;
        }
        catch (InvalidOperationException ex)
        {
            // A migration edited after it was applied, or a malformed one: the package is wrong, not the database.
            state.Set(ex.Message);
            LogBroken(logger, ex);
            return null;
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException)
        {
            state.Set($"migrations pending: {ex.GetType().Name}: {ex.Message}");
            LogPending(logger, ex.GetType().Name, ex.Message);
            return false;
        }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Schema current: {Applied} migrations applied at start, {Present} already present")]
    private static partial void LogCurrent(ILogger logger, int applied, int present);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Migrations at start did not complete ({Error}: {Message}); serving anyway and retrying in the background")]
    private static partial void LogPending(ILogger logger, string error, string message);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Critical, Message = "The packaged migrations cannot be applied; redeploy a correct package")]
    private static partial void LogBroken(ILogger logger, Exception exception);
}
