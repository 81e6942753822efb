using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Sentinel.Core.Storage.Tables;

/// <summary>
/// The one narrow class that speaks the Table service REST API (Azure.Data.Tables is not available here), over
/// Azure.Core's <see cref="HttpPipeline"/> so retries, logging and credentials come from Azure.Core. This first cut
/// holds what the foundation needs (reaching the service); the directory's entity operations build on it.
/// </summary>
internal sealed class TableServiceClient
{
    // The version Azure.Data.Tables sends; Azurite is started with --skipApiVersionCheck regardless.
    internal const string ServiceVersion = "2019-02-02";
    private const string StorageScope = "https://storage.azure.com/.default";

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
        using var message = _pipeline.CreateMessage();
        var request = message.Request;
        request.Method = RequestMethod.Get;
        request.Uri.Reset(Account.Endpoint);
        request.Uri.AppendPath("Tables", escape: false);
        request.Uri.AppendQuery("$top", "1");
        AddStandardHeaders(request);
        await _pipeline.SendAsync(message, cancellationToken);
        if (message.Response.IsError)
            throw new RequestFailedException(message.Response);
    }

    private static void AddStandardHeaders(Request request)
    {
        request.Headers.SetValue("x-ms-version", ServiceVersion);
        request.Headers.SetValue("Accept", "application/json;odata=minimalmetadata");
        request.Headers.SetValue("DataServiceVersion", "3.0;NetFx");
        request.Headers.SetValue("MaxDataServiceVersion", "3.0;NetFx");
    }

    private sealed class TableClientOptions : ClientOptions
    {
        public TableClientOptions()
        {
            Retry.MaxRetries = 2;
            Retry.NetworkTimeout = TimeSpan.FromSeconds(10);
            Diagnostics.IsDistributedTracingEnabled = false;
        }
    }
}
