namespace Sentinel.Core.Storage.Tables;

/// <summary>
/// A feature's tables, created once per process on first use (and again on the next call if storage was down), so a
/// store never pays for creation on its hot path after the first request.
/// </summary>
internal sealed class TableSet
{
    private readonly TableServiceClient _tables;
    private readonly string[] _names;
    private readonly Lock _gate = new();
    private Task? _ensuring;

    public TableSet(TableServiceClient tables, params string[] names)
    {
        foreach (var name in names)
            TableServiceClient.ValidateTableName(name);
        (_tables, _names) = (tables, names);
    }

    public async Task EnsureAsync(CancellationToken cancellationToken)
    {
        Task ensuring;
        lock (_gate)
        {
            if (_ensuring is { IsFaulted: true } or { IsCanceled: true })
                _ensuring = null;
            ensuring = _ensuring ??= CreateAsync();
        }

        await ensuring.WaitAsync(cancellationToken);
    }

    public async Task DeleteAsync(CancellationToken cancellationToken)
    {
        foreach (var name in _names)
            await _tables.DeleteTableAsync(name, cancellationToken);
        lock (_gate)
            _ensuring = null;
    }

    private async Task CreateAsync()
    {
        // Not tied to one caller's token: a caller giving up must not fail the creation for the others.
        foreach (var name in _names)
            await _tables.CreateTableIfNotExistsAsync(name, CancellationToken.None);
    }
}
