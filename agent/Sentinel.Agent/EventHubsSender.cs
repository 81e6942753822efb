using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Sentinel.Contracts.EventHubs;
using Sentinel.Contracts.Metrics;

namespace Sentinel.Agent;

/// <summary>
/// Drains the spool, oldest first, to the Event Hubs REST API (<c>POST /{hub}/messages</c>, batch content type
/// <c>application/vnd.microsoft.servicebus.json</c>, partition key = agent id; shared/research/azure-rest-protocols.md §A).
/// Each event is signed when it is sent (so a batch that waited is not stale), a request stays under 1 MB, and a batch
/// leaves the spool only after 201. Failures back off exponentially with jitter: at least 4 s on 503/429 (the service's
/// "wait 4 seconds"), Retry-After honoured, at most 5 minutes. Never throws: errors are counted and reported.
/// </summary>
internal sealed class EventHubsSender : IDisposable
{
    /// <summary>The Standard tier allows 1 MB per publication; keep a margin for the envelope.</summary>
    public const int MaxRequestBytes = 900 * 1024;
    public const int MaxEventsPerRequest = 200;
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan ServerBusyFloor = TimeSpan.FromSeconds(4);

    private readonly AgentConfig _config;
    private readonly Spool _spool;
    private readonly HttpClient _http;
    private readonly AgentHealth _health;
    private readonly Action<string> _log;
    private readonly TimeProvider _time;
    private readonly byte[] _key;
    private readonly Uri _messages;
    private readonly string _entity;
    private readonly EventHubsConnectionString? _connection;
    private readonly SemaphoreSlim _signal = new(0);
    private int _maxEvents = MaxEventsPerRequest;
    private int _failures;

    public EventHubsSender(AgentConfig config, Spool spool, HttpClient http, AgentHealth health, TimeProvider time, Action<string> log)
    {
        _time = time;
        _config = config;
        _spool = spool;
        _http = http;
        _health = health;
        _log = log;
        AgentSignature.TryDecodeKey(config.Key, out _key);
        Uri endpoint;
        if (!config.UsesEntra)
        {
            if (!EventHubsConnectionString.TryParse(config.Connection, out _connection))
                throw new ArgumentException("connection is not an Event Hubs connection string.");
            endpoint = _connection!.Endpoint;
        }
        else
        {
            endpoint = new Uri(config.Endpoint!);
        }

        var entity = new Uri(endpoint, Uri.EscapeDataString(config.Hub));
        _entity = entity.ToString();
        _messages = new Uri(_entity + "/messages?timeout=60&api-version=2014-01");
    }

    /// <summary>Wakes the sender after the collector spooled a batch.</summary>
    public void Signal()
    {
        if (_signal.CurrentCount == 0)
            _signal.Release();
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TimeSpan? wait;
            try
            {
                wait = await SendOnceAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Never crash: whatever went wrong, the batches are still in the spool.
                wait = Failed("unexpected: " + ex.Message, null);
            }

            try
            {
                if (wait is { } delay)
                    await Task.Delay(delay, cancellationToken);
                else if (_spool.Count == 0)
                    await _signal.WaitAsync(TimeSpan.FromSeconds(_config.IntervalSeconds), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One request. Returns how long to wait before the next, or null to go on at once (or wait for work).</summary>
    internal async Task<TimeSpan?> SendOnceAsync(CancellationToken cancellationToken)
    {
        var items = _spool.Peek(_maxEvents);
        if (items.Count == 0)
            return null;
        var (body, included) = BuildRequest(items);
        if (included == 0)
        {
            // A single batch larger than a publication can never be sent: drop it rather than block the spool.
            _spool.Delete([items[0].Seq]);
            _health.OnRejected(1);
            _log($"dropped batch {items[0].Seq}: {items[0].Body.Length} bytes is over the Event Hubs publication limit");
            return null;
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, _messages) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.microsoft.servicebus.json");
        HttpResponseMessage response;
        try
        {
            request.Headers.TryAddWithoutValidation("Authorization", await AuthorizationAsync(cancellationToken));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            response = await _http.SendAsync(request, timeout.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException or JsonException or KeyNotFoundException
                                       && !cancellationToken.IsCancellationRequested)
        {
            // The service may have stored it anyway: re-sending is safe, ingest stores each (agent, seq) once.
            return Failed("send failed: " + ex.Message, null);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (response.StatusCode == HttpStatusCode.Created)
            {
                _spool.Delete(items.Take(included).Select(i => i.Seq));
                _health.OnSent(included);
                _failures = 0;
                _maxEvents = Math.Min(MaxEventsPerRequest, _maxEvents * 2);
                return null;
            }

            var detail = await ReadDetailAsync(response, cancellationToken);
            if (status is 413 or 400 && included > 1)
            {
                _maxEvents = Math.Max(1, included / 2); // split and find the one the service refuses
                _log($"Event Hubs answered {status} to {included} events; retrying in smaller requests");
                return null;
            }

            if (status == 413 || status == 400)
            {
                _spool.Delete([items[0].Seq]);
                _health.OnRejected(1);
                _health.OnError($"{status}: {detail}");
                _log($"dropped batch {items[0].Seq}: Event Hubs refused it ({status}: {detail})");
                return null;
            }

            var retryAfter = response.Headers.RetryAfter?.Delta;
            var floor = status is 503 or 429 ? ServerBusyFloor : TimeSpan.Zero;
            if (retryAfter is { } ra && ra > floor)
                floor = ra;
            var hint = status is 401 or 403 ? " (check the agent's connection string and key: the data is kept)" : status is 404 or 410 ? " (no such event hub: check hub)" : "";
            return Failed($"Event Hubs answered {status}: {detail}{hint}", floor);
        }
    }

    private TimeSpan Failed(string message, TimeSpan? floor)
    {
        _failures++;
        _health.OnError(message);
        _log(message);
        // Exponential backoff with full jitter over [half, whole] of 2^n seconds, never under 1 s (each retry signs
        // with a new timestamp), never over 5 minutes, at least the server's floor.
        var exponent = Math.Min(_failures, 9);
        var cap = Math.Min(MaxBackoff.TotalSeconds, Math.Pow(2, exponent));
        var delay = TimeSpan.FromSeconds(Math.Max(1, cap * (0.5 + Random.Shared.NextDouble() * 0.5)));
        return floor is { } f && f > delay ? f : delay;
    }

    private (byte[] Body, int Included) BuildRequest(List<(long Seq, byte[] Body)> items)
    {
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds();
        var version = _config.KeyVersion.ToString(CultureInfo.InvariantCulture);
        var ts = timestamp.ToString(CultureInfo.InvariantCulture);
        using var buffer = new MemoryStream();
        var included = 0;
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var (_, body) in items)
            {
                var before = buffer.Length + json.BytesPending;
                json.WriteStartObject();
                json.WriteString("Body", Encoding.UTF8.GetString(body));
                json.WriteStartObject("UserProperties");
                json.WriteString(AgentSignature.AgentProperty, _config.AgentId);
                json.WriteString(AgentSignature.KeyVersionProperty, version);
                json.WriteString(AgentSignature.TimestampProperty, ts);
                json.WriteString(AgentSignature.SignatureProperty, AgentSignature.Sign(_key, _config.AgentId, _config.KeyVersion, timestamp, body));
                json.WriteEndObject();
                json.WriteStartObject("BrokerProperties");
                json.WriteString("PartitionKey", _config.AgentId);
                json.WriteEndObject();
                json.WriteEndObject();
                json.Flush();
                if (buffer.Length + 1 > MaxRequestBytes)
                {
                    buffer.SetLength(before); // undo the event that went over
                    break;
                }

                included++;
            }
        }

        // The array is closed here, after the last event that fit (the writer never wrote its end).
        return included == 0 ? ([], 0) : ([.. buffer.ToArray(), (byte)']'], included);
    }

    private string? _imdsToken;
    private DateTimeOffset _imdsTokenRefreshAt;

    private async Task<string> AuthorizationAsync(CancellationToken cancellationToken)
    {
        if (_config.BearerTokenFile is { } file)
            return "Bearer " + (await File.ReadAllTextAsync(file, cancellationToken)).Trim();
        if (_config.ManagedIdentity)
            return "Bearer " + await ManagedIdentityTokenAsync(cancellationToken);
        return SharedAccessSignature.Create(_entity, _connection!.KeyName, _connection.Key, _time.GetUtcNow().AddMinutes(30));
    }

    /// <summary>
    /// A token for https://eventhubs.azure.net/ from the Azure Instance Metadata Service (the VM's managed identity; the
    /// identity needs the Azure Event Hubs Data Sender role), cached until 5 minutes before it expires. A failure is an
    /// <see cref="HttpRequestException"/>: the send is retried with backoff like any network error.
    /// </summary>
    private async Task<string> ManagedIdentityTokenAsync(CancellationToken cancellationToken)
    {
        if (_imdsToken is { } cached && _time.GetUtcNow() < _imdsTokenRefreshAt)
            return cached;
        var query = "api-version=2018-02-01&resource=" + Uri.EscapeDataString("https://eventhubs.azure.net/")
                    + (string.IsNullOrEmpty(_config.ManagedIdentityClientId) ? "" : "&client_id=" + Uri.EscapeDataString(_config.ManagedIdentityClientId));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_config.ImdsEndpoint + "?" + query));
        request.Headers.TryAddWithoutValidation("Metadata", "true");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        using var response = await _http.SendAsync(request, timeout.Token);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"the instance metadata service answered {(int)response.StatusCode} for a managed identity token");
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStreamAsync(cancellationToken));
        var token = doc.RootElement.GetProperty("access_token").GetString()
                    ?? throw new HttpRequestException("the instance metadata service returned no access_token");
        var expiresOn = doc.RootElement.TryGetProperty("expires_on", out var e) && long.TryParse(e.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var unix)
            ? DateTimeOffset.FromUnixTimeSeconds(unix)
            : _time.GetUtcNow().AddMinutes(10);
        _imdsToken = token;
        _imdsTokenRefreshAt = expiresOn.AddMinutes(-5);
        return token;
    }

    public void Dispose() => _signal.Dispose();

    private static async Task<string> ReadDetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            text = text.ReplaceLineEndings(" ").Trim();
            return text.Length > 200 ? text[..200] : text;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return response.ReasonPhrase ?? "";
        }
    }
}
