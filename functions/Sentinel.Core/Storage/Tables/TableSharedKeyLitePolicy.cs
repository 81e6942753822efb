using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Sentinel.Core.Storage.Tables;

/// <summary>
/// Signs each attempt with SharedKeyLite, the scheme Azure.Data.Tables uses:
/// <c>StringToSign = x-ms-date + "\n" + "/" + account + encodedPath [+ "?comp=" + comp]</c>, HMAC-SHA256 with the
/// base64-decoded account key. Azurite's path-style URLs put the account in the path, so it appears twice in
/// the canonical resource (shared/research/azure-rest-protocols.md §B3). Added per retry so every attempt gets a fresh date.
/// </summary>
internal sealed class TableSharedKeyLitePolicy(TableStorageAccount account, TimeProvider timeProvider) : HttpPipelineSynchronousPolicy
{
    public override void OnSendingRequest(HttpMessage message)
    {
        var date = timeProvider.GetUtcNow().ToString("r", CultureInfo.InvariantCulture);
        message.Request.Headers.SetValue("x-ms-date", date);
        // Sign the path exactly as it goes on the wire, after System.Uri has had its say (as Azure.Data.Tables does).
        var uri = message.Request.Uri.ToUri();
        var path = uri.AbsolutePath;
        var comp = CompParameter(uri.Query);
        message.Request.Headers.SetValue("Authorization", Sign(account, date, path, comp));
    }

    /// <summary>The Authorization header value for a request (exposed for the test vectors).</summary>
    internal static string Sign(TableStorageAccount account, string date, string encodedPath, string? comp)
    {
        var canonical = "/" + account.AccountName + encodedPath + (comp is null ? "" : "?comp=" + comp);
        Span<byte> hash = stackalloc byte[32];
        HMACSHA256.HashData(account.AccountKey!, Encoding.UTF8.GetBytes(date + "\n" + canonical), hash);
        return "SharedKeyLite " + account.AccountName + ":" + Convert.ToBase64String(hash);
    }

    private static string? CompParameter(string query)
    {
        foreach (var pair in query.TrimStart('?').Split('&'))
        {
            if (pair.StartsWith("comp=", StringComparison.Ordinal))
                return pair[5..];
        }

        return null;
    }
}
