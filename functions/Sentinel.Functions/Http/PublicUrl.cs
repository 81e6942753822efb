using Microsoft.Extensions.Options;
using Sentinel.Core.Configuration;
using Sentinel.Functions.Hosting;

namespace Sentinel.Functions.Http;

/// <summary>Section <c>Hosting</c>.</summary>
[SettingsSection("Hosting")]
internal sealed class HostingOptions
{
    /// <summary>The origin clients reach the API at (a custom domain). Default: <c>https://$WEBSITE_HOSTNAME</c> under
    /// Azure, else the request's own scheme and host.</summary>
    public Uri? PublicUrl { get; set; }
}

/// <summary>
/// The origin for URLs the API hands out (relay webhook URLs, the OpenID discovery document). Under the Functions host
/// every request arrives from the host on 127.0.0.1, so the request's Host is not the public one: the platform's
/// <c>WEBSITE_HOSTNAME</c> is, unless <see cref="HostingOptions.PublicUrl"/> names a custom domain.
/// </summary>
internal static class PublicUrl
{
    /// <summary>The app's default host name, set by App Service / Functions for every app.</summary>
    [AppSetting(FromHost = true)]
    public const string WebsiteHostnameSetting = "WEBSITE_HOSTNAME";

    /// <summary><c>scheme://host[:port]</c> without a trailing slash.</summary>
    public static string Of(HttpContext http)
    {
        var services = http.RequestServices;
        if (services.GetRequiredService<IOptions<HostingOptions>>().Value.PublicUrl is { } configured)
            return configured.GetLeftPart(UriPartial.Authority);
        if (services.GetRequiredService<HostInfo>().Mode == HostMode.Functions
            && services.GetRequiredService<IConfiguration>()[WebsiteHostnameSetting] is { Length: > 0 } hostName
            && Uri.CheckHostName(hostName) == UriHostNameType.Dns)
            return "https://" + hostName;
        return $"{http.Request.Scheme}://{http.Request.Host}";
    }
}
