using System.Globalization;

namespace Sentinel.Core.Storage.Tables;

/// <summary>
/// One entity: its keys, the service's ETag and Timestamp, and typed properties. Values are <see cref="string"/>,
/// <see cref="int"/>, <see cref="long"/>, <see cref="double"/>, <see cref="bool"/>, <see cref="DateTimeOffset"/>,
/// <see cref="Guid"/> or <see cref="byte"/>[] — the Edm types of the Table service (azure-rest-protocols.md §B6).
/// Keys are stored as given: callers escape them with <see cref="TableKey.Escape"/> when they come from users.
/// </summary>
internal sealed class TableEntity
{
    private readonly Dictionary<string, object> _properties = new(StringComparer.Ordinal);

    public TableEntity(string partitionKey, string rowKey)
    {
        ArgumentNullException.ThrowIfNull(partitionKey);
        ArgumentNullException.ThrowIfNull(rowKey);
        PartitionKey = partitionKey;
        RowKey = rowKey;
    }

    public string PartitionKey { get; }

    public string RowKey { get; }

    /// <summary>The opaque ETag the service returned (send it back byte for byte); null for a new entity.</summary>
    public string? ETag { get; set; }

    /// <summary>The service's last-modified time; null for a new entity.</summary>
    public DateTimeOffset? Timestamp { get; set; }

    public IReadOnlyDictionary<string, object> Properties => _properties;

    /// <summary>Sets a property; a null value removes it (Tables has no null values).</summary>
    public object? this[string name]
    {
        get => _properties.GetValueOrDefault(name);
        set
        {
            if (value is null)
            {
                _properties.Remove(name);
                return;
            }

            if (value is not (string or int or long or double or bool or DateTimeOffset or Guid or byte[]))
                throw new ArgumentException($"Table storage cannot hold a {value.GetType().Name}.", nameof(value));
            _properties[name] = value;
        }
    }

    public string? GetString(string name) => _properties.GetValueOrDefault(name) as string;

    public string GetRequiredString(string name) =>
        GetString(name) ?? throw new InvalidDataException($"Entity {PartitionKey}/{RowKey} has no string property {name}.");

    public long? GetInt64(string name) => _properties.GetValueOrDefault(name) switch
    {
        long l => l,
        int i => i,
        string s when long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => l,
        _ => null,
    };

    public int? GetInt32(string name) => _properties.GetValueOrDefault(name) switch
    {
        int i => i,
        long l when l is >= int.MinValue and <= int.MaxValue => (int)l,
        _ => null,
    };

    public bool? GetBoolean(string name) => _properties.GetValueOrDefault(name) as bool?;

    public DateTimeOffset? GetDateTimeOffset(string name) => _properties.GetValueOrDefault(name) as DateTimeOffset?;

    public Guid? GetGuid(string name) => _properties.GetValueOrDefault(name) as Guid?;

    public byte[]? GetBinary(string name) => _properties.GetValueOrDefault(name) as byte[];
}
