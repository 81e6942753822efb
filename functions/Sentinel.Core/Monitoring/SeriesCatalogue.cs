using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Sentinel.Contracts.Metrics;

namespace Sentinel.Core.Monitoring;

/// <summary>A series' identity: agent, metric name and the canonical text of its labels.</summary>
internal readonly record struct SeriesKey(string Agent, string Name, string LabelsKey)
{
    public static SeriesKey Of(string agent, MetricSample sample) => new(agent, sample.Name, Canonical(sample.Labels));

    /// <summary>Labels sorted by name, as "k=v" joined by U+001F (a character label values cannot usefully hold).</summary>
    public static string Canonical(IReadOnlyDictionary<string, string>? labels)
    {
        if (labels is null || labels.Count == 0)
            return "";
        if (labels.Count == 1)
        {
            foreach (var (k, v) in labels)
                return string.Concat(k, "=", v);
        }

        var names = new string[labels.Count];
        var n = 0;
        foreach (var k in labels.Keys)
            names[n++] = k;
        Array.Sort(names, StringComparer.Ordinal);
        var sb = new StringBuilder();
        foreach (var k in names)
        {
            if (sb.Length > 0)
                sb.Append('\u001f');
            sb.Append(k).Append('=').Append(labels[k]);
        }

        return sb.ToString();
    }
}

/// <summary>
/// The series catalogue: name + labels → id, cached in process by the sample's raw identity (agent, name and labels as
/// the batch's JSON spelled them), which <see cref="MetricBatchReader"/> looks up without allocating. A sample not in the
/// cache is resolved by its canonical <see cref="SeriesKey"/> in PostgreSQL, creating the series if needed, in a short
/// transaction of its own before the batch's (a series that exists without samples is harmless; an id cached from a
/// rolled-back transaction would not be).
/// </summary>
internal sealed class SeriesCatalogue
{
    public const int MaxCached = 1_000_000;
    private readonly NpgsqlDataSource _dataSource;
    private readonly ConcurrentDictionary<string, long> _byIdentity;
    private readonly ConcurrentDictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public SeriesCatalogue(NpgsqlDataSource dataSource)
    {
        _dataSource = dataSource;
        _byIdentity = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        _lookup = _byIdentity.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Sample identities cached (one per series and spelling of its labels).</summary>
    public int Cached => _byIdentity.Count;

    /// <summary>The series of a raw sample identity (agent, name and labels as the batch's JSON spelled them) seen before.</summary>
    public bool TryGetByIdentity(string agent, ReadOnlySpan<byte> rawName, ReadOnlySpan<byte> rawLabels, out long id)
    {
        var length = agent.Length + 2 + rawName.Length + rawLabels.Length; // UTF-8 never has fewer bytes than UTF-16 chars
        char[]? rented = null;
        var buffer = length <= 512 ? stackalloc char[512] : (rented = ArrayPool<char>.Shared.Rent(length));
        try
        {
            var n = Identity(buffer, agent, rawName, rawLabels);
            return _lookup.TryGetValue(buffer[..n], out id);
        }
        finally
        {
            if (rented is not null)
                ArrayPool<char>.Shared.Return(rented);
        }
    }

    public static string Identity(string agent, ReadOnlySpan<byte> rawName, ReadOnlySpan<byte> rawLabels)
    {
        var buffer = new char[agent.Length + 2 + rawName.Length + rawLabels.Length];
        return new string(buffer, 0, Identity(buffer, agent, rawName, rawLabels));
    }

    private static int Identity(Span<char> buffer, string agent, ReadOnlySpan<byte> rawName, ReadOnlySpan<byte> rawLabels)
    {
        agent.CopyTo(buffer);
        var n = agent.Length;
        buffer[n++] = '\u001f';
        n += Encoding.UTF8.GetChars(rawName, buffer[n..]);
        buffer[n++] = '\u001f';
        n += Encoding.UTF8.GetChars(rawLabels, buffer[n..]);
        return n;
    }

    /// <summary>Fills the ids of the batches' pending samples, creating the series that do not exist yet, and remembers them.</summary>
    public async Task ResolveAsync(IEnumerable<(string Tenant, ParsedBatch Batch)> batches, CancellationToken cancellationToken)
    {
        var list = batches.ToList();
        var missing = new Dictionary<SeriesKey, (string Tenant, IReadOnlyDictionary<string, string>? Labels)>();
        foreach (var (tenant, batch) in list)
        {
            foreach (var p in batch.Pending)
                missing.TryAdd(p.Key, (tenant, p.Labels));
        }

        var ids = await ResolveOrCreateAsync(missing, cancellationToken);
        if (_byIdentity.Count > MaxCached)
            _byIdentity.Clear();
        foreach (var (_, batch) in list)
        {
            foreach (var p in batch.Pending)
            {
                batch.Ids[p.Index] = ids[p.Key];
                _byIdentity[p.Identity] = ids[p.Key];
            }
        }
    }

    private async Task<Dictionary<SeriesKey, long>> ResolveOrCreateAsync(Dictionary<SeriesKey, (string Tenant, IReadOnlyDictionary<string, string>? Labels)> missing,
        CancellationToken cancellationToken)
    {
        var result = new Dictionary<SeriesKey, long>();
        // Two passes at most: a series another instance created after this statement's snapshot is neither inserted
        // nor seen by the first pass, and is by the second (a new snapshot).
        for (var pass = 0; pass < 2 && missing.Count > 0; pass++)
        {
            var keys = missing.Keys.ToArray();
            await using var command = _dataSource.CreateCommand("""
                with wanted as (
                    select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[]) as w(tenant_id, agent_id, name, labels, labels_key)
                ), created as (
                    insert into metric_series (tenant_id, agent_id, name, labels, labels_key)
                    select tenant_id, agent_id, name, labels, labels_key from wanted
                    on conflict (agent_id, name, labels_key) do nothing
                    returning id, agent_id, name, labels_key
                )
                select id, agent_id, name, labels_key from created
                union all
                select s.id, s.agent_id, s.name, s.labels_key from metric_series s join wanted w using (agent_id, name, labels_key)
                """);
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys.Select(k => missing[k].Tenant).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys.Select(k => k.Agent).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys.Select(k => k.Name).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb, Value = keys.Select(k =>
                JsonSerializer.Serialize(missing[k].Labels is { } l ? new Dictionary<string, string>(l) : [], LabelsJsonContext.Default.DictionaryStringString)).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys.Select(k => k.LabelsKey).ToArray() });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var key = new SeriesKey(reader.GetString(1), reader.GetString(2), reader.GetString(3));
                result[key] = reader.GetInt64(0);
                missing.Remove(key);
            }
        }

        if (missing.Count > 0)
            throw new InvalidOperationException($"{missing.Count} series could not be resolved; the batch will be retried.");
        return result;
    }
}
