namespace Sentinel.Contracts.EventHubs;

/// <summary>
/// An Event Hubs connection string: <c>Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=hub]</c>.
/// </summary>
/// <param name="Endpoint">The namespace endpoint, with <c>sb://</c> mapped to <c>https://</c> (or kept <c>http://</c> for a local host).</param>
/// <param name="KeyName">The shared access policy name.</param>
/// <param name="Key">The shared access key text.</param>
/// <param name="EntityPath">The event hub, when the string names one.</param>
public sealed record EventHubsConnectionString(Uri Endpoint, string KeyName, string Key, string? EntityPath)
{
    /// <summary>Parses a connection string; false when a required part is missing or the endpoint is not a URI.</summary>
    public static bool TryParse(string? value, out EventHubsConnectionString? result)
    {
        result = null;
        if (string.IsNullOrWhiteSpace(value))
            return false;
        string? endpoint = null, keyName = null, key = null, entity = null;
        var useDevelopmentEmulator = false;
        foreach (var part in value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0)
                return false;
            var name = part[..eq];
            var v = part[(eq + 1)..];
            if (name.Equals("Endpoint", StringComparison.OrdinalIgnoreCase)) endpoint = v;
            else if (name.Equals("SharedAccessKeyName", StringComparison.OrdinalIgnoreCase)) keyName = v;
            else if (name.Equals("SharedAccessKey", StringComparison.OrdinalIgnoreCase)) key = v;
            else if (name.Equals("EntityPath", StringComparison.OrdinalIgnoreCase)) entity = v;
            else if (name.Equals("UseDevelopmentEmulator", StringComparison.OrdinalIgnoreCase)) useDevelopmentEmulator = bool.TryParse(v, out var b) && b;
        }

        if (endpoint is null || keyName is null || key is null || !Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
            return false;
        // REST speaks HTTPS to sb:// namespaces; a local standalone host (or emulator) speaks plain HTTP.
        var scheme = uri.Scheme is "sb" ? (useDevelopmentEmulator || uri.IsLoopback ? "http" : "https") : uri.Scheme;
        var builder = new UriBuilder(uri) { Scheme = scheme, Port = uri.IsDefaultPort ? -1 : uri.Port };
        result = new EventHubsConnectionString(builder.Uri, keyName, key, string.IsNullOrEmpty(entity) ? null : entity);
        return true;
    }

    /// <summary>The URI of an event hub in this namespace.</summary>
    public Uri EntityUri(string hub) => new(Endpoint, Uri.EscapeDataString(hub));
}
