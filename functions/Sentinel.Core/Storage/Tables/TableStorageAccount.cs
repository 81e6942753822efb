namespace Sentinel.Core.Storage.Tables;

/// <summary>
/// Where the directory tables live and how to sign for them: a storage connection string (shared key, used with
/// Azurite locally; <c>UseDevelopmentStorage=true</c> understood) or an endpoint with a managed identity in Azure.
/// </summary>
/// <param name="Endpoint">The table endpoint, e.g. <c>https://acct.table.core.windows.net/</c> or Azurite's
/// path-style <c>http://127.0.0.1:10002/devstoreaccount1/</c> (always ending in a slash).</param>
/// <param name="AccountName">The account name (signs shared-key requests).</param>
/// <param name="AccountKey">The decoded account key; null when an identity signs instead.</param>
internal sealed record TableStorageAccount(Uri Endpoint, string AccountName, byte[]? AccountKey)
{
    // Azurite's published development account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite).
    private const string DevelopmentAccount = "devstoreaccount1";
    private const string DevelopmentKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>Parses a storage connection string; throws <see cref="FormatException"/> naming what is missing.</summary>
    public static TableStorageAccount Parse(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                throw new FormatException("The storage connection string has a part without '='.");
            parts[part[..eq]] = part[(eq + 1)..];
        }

        if (parts.TryGetValue("UseDevelopmentStorage", out var dev) && dev.Equals("true", StringComparison.OrdinalIgnoreCase))
        {
            var proxy = parts.TryGetValue("DevelopmentStorageProxyUri", out var p) ? p.TrimEnd('/') : "http://127.0.0.1";
            return new TableStorageAccount(new Uri($"{proxy}:10002/{DevelopmentAccount}/"), DevelopmentAccount, Convert.FromBase64String(DevelopmentKey));
        }

        if (!parts.TryGetValue("AccountName", out var account) || account.Length == 0)
            throw new FormatException("The storage connection string has no AccountName.");
        if (!parts.TryGetValue("AccountKey", out var key) || key.Length == 0)
            throw new FormatException("The storage connection string has no AccountKey.");
        byte[] keyBytes;
        try
        {
            keyBytes = Convert.FromBase64String(key);
        }
        catch (FormatException)
        {
            throw new FormatException("The storage connection string's AccountKey is not base64.");
        }

        Uri endpoint;
        if (parts.TryGetValue("TableEndpoint", out var tableEndpoint))
        {
            endpoint = new Uri(tableEndpoint.EndsWith('/') ? tableEndpoint : tableEndpoint + "/");
        }
        else
        {
            var protocol = parts.TryGetValue("DefaultEndpointsProtocol", out var proto) ? proto : "https";
            var suffix = parts.TryGetValue("EndpointSuffix", out var sfx) ? sfx : "core.windows.net";
            endpoint = new Uri($"{protocol}://{account}.table.{suffix}/");
        }

        return new TableStorageAccount(endpoint, account, keyBytes);
    }

    /// <summary>An account reached with an Entra token (managed identity) instead of a key.</summary>
    public static TableStorageAccount ForIdentity(Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var text = endpoint.ToString();
        var withSlash = text.EndsWith('/') ? endpoint : new Uri(text + "/");
        return new TableStorageAccount(withSlash, endpoint.Host.Split('.')[0], null);
    }

    /// <inheritdoc />
    public override string ToString() => $"{AccountName} at {Endpoint}"; // never the key
}
