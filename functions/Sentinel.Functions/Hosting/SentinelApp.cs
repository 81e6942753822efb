using System.Globalization;
using Sentinel.Core.Configuration;
using Sentinel.Functions.Alerts;
using Sentinel.Functions.CustomHandler;
using Sentinel.Functions.Gateway;
using Sentinel.Functions.Health;
using Sentinel.Functions.Http;
using Sentinel.Functions.Insights;
using Sentinel.Functions.Monitoring;
using Sentinel.Functions.Relay;
using Sentinel.Functions.Standalone;

namespace Sentinel.Functions.Hosting;

/// <summary>Builds the web application for <c>serve</c> and <c>serve --standalone</c>: a table of contents of the features.</summary>
internal static class SentinelApp
{
    /// <summary>The API's request body limit; larger bodies get 413 problem+json.</summary>
    public const long MaxApiBodyBytes = 1024 * 1024;

    /// <summary>The standalone host's default address (<c>func start</c>'s default port).</summary>
    public const string DefaultStandaloneUrl = "http://127.0.0.1:7071";

    /// <summary>The loopback port the Functions host assigns the handler (protocol notes §1.3).</summary>
    [AppSetting(FromHost = true)]
    public const string CustomHandlerPortSetting = "FUNCTIONS_CUSTOMHANDLER_PORT";

    /// <summary>The same port under its older name, set by older hosts.</summary>
    [AppSetting(FromHost = true)]
    public const string HttpWorkerPortSetting = "FUNCTIONS_HTTPWORKER_PORT";

    public static WebApplication Build(HostMode mode, string[] args, Action<WebApplicationBuilder>? configure = null, TimeProvider? time = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args });
        SentinelConfiguration.Apply(builder.Configuration, mode, builder.Environment.ContentRootPath);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
            o.UseUtcTimestamp = true;
        });
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = MaxApiBodyBytes;
            k.Limits.MaxRequestHeadersTotalSize = 64 * 1024;
        });
        builder.WebHost.UseUrls(ListenUrl(mode, builder.Configuration));

        builder.Services.AddSentinelFoundation(mode, time ?? TimeProvider.System);
        builder.Services.AddSentinelGateway();
        builder.Services.AddSentinelMonitoring();
        builder.Services.AddSentinelRelay();
        builder.Services.AddSentinelAlerts();
        builder.Services.AddSentinelOpenApi();
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseSentinelProblems();
        if (mode == HostMode.Standalone)
            app.UseDashboard();
        app.UseRouting();
        app.UseSentinelGateway();
        app.UseConditionalGet();
        if (mode == HostMode.Functions)
            app.MapCustomHandler();
        app.MapHealthEndpoints();
        app.MapSentinelGateway();
        app.MapMonitoringEndpoints();
        app.MapRelayEndpoints();
        app.MapAlertsEndpoints();
        app.MapInsightsEndpoints();
        app.MapSentinelOpenApi();
        if (mode == HostMode.Standalone)
            app.MapStandaloneEventHubs();
        return app;
    }

    private static string ListenUrl(HostMode mode, ConfigurationManager configuration)
    {
        // An explicit --urls / ASPNETCORE_URLS wins (tests bind port 0 this way).
        if (configuration["urls"] is { Length: > 0 } urls)
            return urls;
        if (mode == HostMode.Standalone)
            return DefaultStandaloneUrl;
        var port = configuration[CustomHandlerPortSetting] ?? configuration[HttpWorkerPortSetting];
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
            throw new InvalidOperationException("serve runs under the Functions host, which sets FUNCTIONS_CUSTOMHANDLER_PORT; it is missing or invalid. Run 'serve --standalone' to run without a host.");
        // The host calls http://127.0.0.1:{port}; the port must not be public.
        return string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{p}");
    }
}
