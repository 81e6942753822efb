using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Sentinel.Core.Storage.Tables;

/// <summary>What a conditional write or a delete came to. Infrastructure failures throw <see cref="RequestFailedException"/> instead.</summary>
internal enum TableOutcome
{
    /// <summary>Done.</summary>
    Ok,

    /// <summary>409: the entity already exists (insert).</summary>
    Conflict,

    /// <summary>412: the entity changed since the ETag was read.</summary>
    PreconditionFailed,

    /// <summary>404: the entity does not exist (update, delete).</summary>
    NotFound,
}

/// <summary>The outcome of a write, with the new ETag when it succeeded.</summary>
internal readonly record struct TableWrite(TableOutcome Outcome, string? ETag)
{
    public bool Succeeded => Outcome == TableOutcome.Ok;
}

/// <summary>Where a query resumes: the service's opaque continuation keys, sent back as they came.</summary>
internal sealed record TableContinuation(string NextPartitionKey, string? NextRowKey);

/// <summary>One page of a query (at most 1,000 entities; possibly empty with a continuation, §B4).</summary>
internal sealed record TablePage(IReadOnlyList<TableEntity> Entities, TableContinuation? Continuation);

/// <summary>
/// The one narrow class that speaks the Table service REST API (Azure.Data.Tables is not available here), over
/// Azure.Core's <see cref="HttpPipeline"/> so retries, logging and credentials come from Azure.Core: create table,
/// get, insert, upsert, update and delete with ETag concurrency, and filtered queries with continuation. The wire
/// contract is in shared/research/azure-rest-protocols.md §B (JSON, minimal metadata, x-ms-version 2019-02-02).
/// </summary>
internal sealed partial class TableServiceClient
{
    // The version Azure.Data.Tables sends; Azurite is started with --skipApiVersionCheck regardless.
    internal const string ServiceVersion = "2019-02-02";
    private const string StorageScope = "https://storage.azure.com/.default";
    private static readonly RequestMethod Merge = new("MERGE");

    private readonly HttpPipeline _pipeline;

    public TableServiceClient(TableStorageAccount account, TokenCredential? credential, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(account);
        Account = account;
        var options = new TableClientOptions();
        HttpPipelinePolicy auth = account.AccountKey is not null
            ? new TableSharedKeyLitePolicy(account, timeProvider)
            : new BearerTokenAuthenticationPolicy(credential ?? throw new ArgumentNullException(nameof(credential), "An identity is needed when the account has no key."), StorageScope);
        _pipeline = HttpPipelineBuilder.Build(options, [], [auth], new ResponseClassifier());
    }

    /// <summary>The account this client talks to.</summary>
    public TableStorageAccount Account { get; }

    /// <summary>Lists at most one table: a cheap authenticated round trip. Throws <see cref="RequestFailedException"/> on a non-2xx answer.</summary>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        using var message = CreateMessage(RequestMethod.Get, "Tables");
        message.Request.Uri.AppendQuery("$top", "1");
        var response = await SendAsync(message, cancellationToken);
        ThrowIfError(response);
    }

    /// <summary>Creates the table unless it exists. Table names are 3–63 letters and digits, starting with a letter.</summary>
    public async Task CreateTableIfNotExistsAsync(string table, CancellationToken cancellationToken)
    {
        ValidateTableName(table);
        using var message = CreateMessage(RequestMethod.Post, "Tables");
        message.Request.Headers.SetValue("Prefer", "return-no-content");
        message.Request.Headers.SetValue("Content-Type", "application/json");
        message.Request.Content = RequestContent.Create(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["TableName"] = table }, TableJsonContext.Default.DictionaryStringString));
        var response = await SendAsync(message, cancellationToken);
        if (response.Status == 409 && ErrorCode(response) == "TableAlreadyExists")
            return;
        ThrowIfError(response);
    }

    /// <summary>Deletes a table (tests clean up with it); a missing table is not an error.</summary>
    public async Task DeleteTableAsync(string table, CancellationToken cancellationToken)
    {
        ValidateTableName(table);
        using var message = CreateMessage(RequestMethod.Delete, $"Tables('{table}')");
        var response = await SendAsync(message, cancellationToken);
        if (response.Status == 404)
            return;
        ThrowIfError(response);
    }

    /// <summary>Reads one entity; null when it does not exist. A missing table throws.</summary>
    public async Task<TableEntity?> GetEntityAsync(string table, string partitionKey, string rowKey, CancellationToken cancellationToken)
    {
        using var message = CreateMessage(RequestMethod.Get, EntityPath(table, partitionKey, rowKey));
        var response = await SendAsync(message, cancellationToken);
        if (response.Status == 404 && ErrorCode(response) is "ResourceNotFound" or "EntityNotFound")
            return null;
        ThrowIfError(response);
        using var doc = JsonDocument.Parse(response.Content.ToMemory());
        var entity = ReadEntity(doc.RootElement);
        entity.ETag ??= response.Headers.ETag?.ToString();
        return entity;
    }

    /// <summary>Inserts a new entity: <see cref="TableOutcome.Conflict"/> when its keys are taken.</summary>
    public async Task<TableWrite> InsertEntityAsync(string table, TableEntity entity, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entity);
        ValidateTableName(table);
        using var message = CreateMessage(RequestMethod.Post, table);
        message.Request.Headers.SetValue("Prefer", "return-no-content");
        SetBody(message.Request, entity);
        var response = await SendAsync(message, cancellationToken);
        if (response.Status == 409 && ErrorCode(response) == "EntityAlreadyExists")
            return new TableWrite(TableOutcome.Conflict, null);
        ThrowIfError(response);
        return Written(entity, response);
    }

    /// <summary>Inserts or replaces (or merges) regardless of what is there.</summary>
    public async Task<TableWrite> UpsertEntityAsync(string table, TableEntity entity, bool merge, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entity);
        using var message = CreateMessage(merge ? Merge : RequestMethod.Put, EntityPath(table, entity.PartitionKey, entity.RowKey));
        SetBody(message.Request, entity);
        var response = await SendAsync(message, cancellationToken);
        ThrowIfError(response);
        return Written(entity, response);
    }

    /// <summary>
    /// Replaces (or merges into) an existing entity only if it still has <paramref name="etag"/> (<c>*</c>: any version):
    /// <see cref="TableOutcome.PreconditionFailed"/> when someone else wrote it first, <see cref="TableOutcome.NotFound"/> when it is gone.
    /// </summary>
    public async Task<TableWrite> UpdateEntityAsync(string table, TableEntity entity, string etag, bool merge, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entity);
        ArgumentException.ThrowIfNullOrEmpty(etag);
        using var message = CreateMessage(merge ? Merge : RequestMethod.Put, EntityPath(table, entity.PartitionKey, entity.RowKey));
        message.Request.Headers.SetValue("If-Match", etag);
        SetBody(message.Request, entity);
        var response = await SendAsync(message, cancellationToken);
        if (Conditional(response) is { } failed)
            return failed;
        ThrowIfError(response);
        return Written(entity, response);
    }

    /// <summary>Deletes an entity if it still has <paramref name="etag"/> (<c>*</c>: any version).</summary>
    public async Task<TableOutcome> DeleteEntityAsync(string table, string partitionKey, string rowKey, string etag, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(etag);
        using var message = CreateMessage(RequestMethod.Delete, EntityPath(table, partitionKey, rowKey));
        // Always sent: Azurite answers a bare 400 to a DELETE without If-Match (§B4).
        message.Request.Headers.SetValue("If-Match", etag);
        var response = await SendAsync(message, cancellationToken);
        if (Conditional(response) is { } failed)
            return failed.Outcome;
        ThrowIfError(response);
        return TableOutcome.Ok;
    }

    /// <summary>One page of a query; pass the previous page's continuation to get the next.</summary>
    public async Task<TablePage> QueryPageAsync(string table, string? filter, IReadOnlyList<string>? select, int? top, TableContinuation? continuation, CancellationToken cancellationToken)
    {
        ValidateTableName(table);
        using var message = CreateMessage(RequestMethod.Get, table + "()");
        var uri = message.Request.Uri;
        if (!string.IsNullOrEmpty(filter))
            uri.AppendQuery("$filter", filter);
        if (select is { Count: > 0 })
            uri.AppendQuery("$select", string.Join(',', select));
        if (top is { } t)
            uri.AppendQuery("$top", Math.Clamp(t, 1, 1000).ToString(CultureInfo.InvariantCulture));
        if (continuation is not null)
        {
            uri.AppendQuery("NextPartitionKey", continuation.NextPartitionKey);
            if (continuation.NextRowKey is not null)
                uri.AppendQuery("NextRowKey", continuation.NextRowKey);
        }

        var response = await SendAsync(message, cancellationToken);
        ThrowIfError(response);
        using var doc = JsonDocument.Parse(response.Content.ToMemory());
        var entities = new List<TableEntity>();
        if (doc.RootElement.TryGetProperty("value", out var value) && value.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in value.EnumerateArray())
                entities.Add(ReadEntity(item));
        }

        TableContinuation? next = null;
        if (response.Headers.TryGetValue("x-ms-continuation-NextPartitionKey", out var npk) && !string.IsNullOrEmpty(npk))
        {
            response.Headers.TryGetValue("x-ms-continuation-NextRowKey", out var nrk);
            next = new TableContinuation(npk, string.IsNullOrEmpty(nrk) ? null : nrk);
        }

        return new TablePage(entities, next);
    }

    /// <summary>Every entity matching <paramref name="filter"/>, following continuations (pages can be empty yet continue).</summary>
    public async IAsyncEnumerable<TableEntity> QueryAsync(string table, string? filter, IReadOnlyList<string>? select = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        TableContinuation? continuation = null;
        do
        {
            var page = await QueryPageAsync(table, filter, select, null, continuation, cancellationToken);
            foreach (var entity in page.Entities)
                yield return entity;
            continuation = page.Continuation;
        }
        while (continuation is not null);
    }

    internal static void ValidateTableName(string table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (!TableName().IsMatch(table) || table.Equals("tables", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"'{table}' is not a valid table name (3–63 letters and digits, starting with a letter).", nameof(table));
    }

    private static string EntityPath(string table, string partitionKey, string rowKey)
    {
        ValidateTableName(table);
        if (!TableKey.IsValid(partitionKey) || !TableKey.IsValid(rowKey))
            throw new ArgumentException("A key holds a character Table storage forbids or is too long; escape it with TableKey.Escape.");
        // Double any quote, then percent-encode (§B4): mytable(PartitionKey='o''neil',RowKey='sp%20ace').
        return $"{table}(PartitionKey='{Uri.EscapeDataString(partitionKey.Replace("'", "''", StringComparison.Ordinal))}',RowKey='{Uri.EscapeDataString(rowKey.Replace("'", "''", StringComparison.Ordinal))}')";
    }

    private HttpMessage CreateMessage(RequestMethod method, string path)
    {
        var message = _pipeline.CreateMessage();
        var request = message.Request;
        request.Method = method;
        request.Uri.Reset(Account.Endpoint);
        request.Uri.AppendPath(path, escape: false);
        request.Headers.SetValue("x-ms-version", ServiceVersion);
        request.Headers.SetValue("Accept", "application/json;odata=minimalmetadata");
        request.Headers.SetValue("DataServiceVersion", "3.0;NetFx");
        request.Headers.SetValue("MaxDataServiceVersion", "3.0;NetFx");
        return message;
    }

    private async Task<Response> SendAsync(HttpMessage message, CancellationToken cancellationToken)
    {
        // The response is buffered and lives as long as the message, which the caller disposes.
        await _pipeline.SendAsync(message, cancellationToken);
        return message.Response;
    }

    private static TableWrite Written(TableEntity entity, Response response)
    {
        var etag = response.Headers.ETag?.ToString();
        entity.ETag = etag;
        return new TableWrite(TableOutcome.Ok, etag);
    }

    private static TableWrite? Conditional(Response response) => response.Status switch
    {
        412 => new TableWrite(TableOutcome.PreconditionFailed, null),
        404 when ErrorCode(response) is "ResourceNotFound" or "EntityNotFound" => new TableWrite(TableOutcome.NotFound, null),
        _ => null,
    };

    private static void ThrowIfError(Response response)
    {
        if (!response.IsError)
            return;
        var code = ErrorCode(response);
        throw new RequestFailedException(response.Status, $"Table service answered {response.Status} {code ?? response.ReasonPhrase}.", code, null);
    }

    /// <summary>The service's error code: the x-ms-error-code header, else the JSON or XML body (Azurite answers XML to some errors, §B7).</summary>
    internal static string? ErrorCode(Response response)
    {
        if (response.Headers.TryGetValue("x-ms-error-code", out var code) && !string.IsNullOrEmpty(code))
            return code;
        var body = response.Content?.ToMemory() ?? ReadOnlyMemory<byte>.Empty;
        if (body.IsEmpty)
            return null;
        try
        {
            if (body.Span[0] == (byte)'{')
            {
                using var doc = JsonDocument.Parse(body);
                return doc.RootElement.TryGetProperty("odata.error", out var error) && error.TryGetProperty("code", out var c) ? c.GetString() : null;
            }

            return XDocument.Parse(response.Content!.ToString()).Root?.Element("Code")?.Value;
        }
        catch (Exception ex) when (ex is JsonException or System.Xml.XmlException)
        {
            return null;
        }
    }

    private static void SetBody(Request request, TableEntity entity)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            // Keys always go in the body: an insert needs them, and for PUT/MERGE they match the URL.
            writer.WriteString("PartitionKey", entity.PartitionKey);
            writer.WriteString("RowKey", entity.RowKey);
            foreach (var (name, value) in entity.Properties)
                WriteProperty(writer, name, value);
            writer.WriteEndObject();
        }

        request.Headers.SetValue("Content-Type", "application/json");
        request.Content = RequestContent.Create(buffer.WrittenMemory);
    }

    private static void WriteProperty(Utf8JsonWriter writer, string name, object value)
    {
        switch (value)
        {
            case string s:
                writer.WriteString(name, s);
                break;
            case int i:
                writer.WriteNumber(name, i);
                break;
            case bool b:
                writer.WriteBoolean(name, b);
                break;
            case long l:
                writer.WriteString(name + "@odata.type", "Edm.Int64");
                writer.WriteString(name, l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                writer.WriteString(name + "@odata.type", "Edm.Double");
                if (double.IsFinite(d))
                    writer.WriteNumber(name, d);
                else
                    writer.WriteString(name, double.IsNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
                break;
            case DateTimeOffset dt:
                writer.WriteString(name + "@odata.type", "Edm.DateTime");
                writer.WriteString(name, dt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));
                break;
            case Guid g:
                writer.WriteString(name + "@odata.type", "Edm.Guid");
                writer.WriteString(name, g.ToString("D"));
                break;
            case byte[] bytes:
                writer.WriteString(name + "@odata.type", "Edm.Binary");
                writer.WriteBase64String(name, bytes);
                break;
            default:
                throw new ArgumentException($"Table storage cannot hold a {value.GetType().Name}.", nameof(value));
        }
    }

    private static TableEntity ReadEntity(JsonElement json)
    {
        var pk = json.TryGetProperty("PartitionKey", out var p) ? p.GetString() ?? "" : "";
        var rk = json.TryGetProperty("RowKey", out var r) ? r.GetString() ?? "" : "";
        var entity = new TableEntity(pk, rk);
        foreach (var property in json.EnumerateObject())
        {
            var name = property.Name;
            if (name is "PartitionKey" or "RowKey" || name.StartsWith("odata.", StringComparison.Ordinal) || name.EndsWith("@odata.type", StringComparison.Ordinal))
            {
                if (name == "odata.etag")
                    entity.ETag = property.Value.GetString();
                continue;
            }

            // Azurite omits Timestamp's annotation; it is always a DateTime (§B6).
            var type = name == "Timestamp" ? "Edm.DateTime"
                : json.TryGetProperty(name + "@odata.type", out var t) ? t.GetString() : null;
            object? value = (type, property.Value.ValueKind) switch
            {
                ("Edm.Int64", JsonValueKind.String) => long.Parse(property.Value.GetString()!, NumberStyles.Integer, CultureInfo.InvariantCulture),
                ("Edm.DateTime", JsonValueKind.String) => DateTimeOffset.Parse(property.Value.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
                ("Edm.Guid", JsonValueKind.String) => Guid.Parse(property.Value.GetString()!, CultureInfo.InvariantCulture),
                ("Edm.Binary", JsonValueKind.String) => property.Value.GetBytesFromBase64(),
                ("Edm.Double", JsonValueKind.String) => double.Parse(property.Value.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture),
                ("Edm.Double", JsonValueKind.Number) => property.Value.GetDouble(),
                (_, JsonValueKind.String) => property.Value.GetString(),
                (_, JsonValueKind.Number) when property.Value.TryGetInt32(out var i) => i,
                (_, JsonValueKind.Number) => property.Value.GetDouble(),
                (_, JsonValueKind.True) => true,
                (_, JsonValueKind.False) => false,
                _ => null,
            };
            if (name == "Timestamp")
                entity.Timestamp = value as DateTimeOffset?;
            else
                entity[name] = value;
        }

        return entity;
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    private static partial Regex TableName();

    private sealed class TableClientOptions : ClientOptions
    {
        public TableClientOptions()
        {
            Retry.MaxRetries = 2;
            Retry.NetworkTimeout = TimeSpan.FromSeconds(10);
            Diagnostics.IsDistributedTracingEnabled = false;
            Diagnostics.IsLoggingContentEnabled = false;
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class TableJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
