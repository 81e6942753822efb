using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;

namespace Sentinel.Functions.Standalone;

internal static class StandaloneEndpoints
{
    /// <summary>The Event Hubs REST send API, in the three URI forms the service has.</summary>
    public static IEndpointRouteBuilder MapStandaloneEventHubs(this IEndpointRouteBuilder app)
    {
        app.MapPost("/{hub}/messages", (string hub, HttpContext http, EventHubsEmulator hubs, CancellationToken ct) =>
            hubs.SendAsync(http, hub, null, null, ct));
        app.MapPost("/{hub}/partitions/{partition}/messages", (string hub, string partition, HttpContext http, EventHubsEmulator hubs, CancellationToken ct) =>
            hubs.SendAsync(http, hub, partition, null, ct));
        app.MapPost("/{hub}/publishers/{publisher}/messages", (string hub, string publisher, HttpContext http, EventHubsEmulator hubs, CancellationToken ct) =>
            hubs.SendAsync(http, hub, null, publisher, ct));
        return app;
    }

    /// <summary>Serves the dashboard's static files (built <c>dashboard/dist</c>, else the <c>dashboard</c> sources).</summary>
    public static WebApplication UseDashboard(this WebApplication app)
    {
        var configured = app.Services.GetRequiredService<IOptions<StandaloneOptions>>().Value.DashboardPath;
        var root = app.Environment.ContentRootPath;
        var folder = configured is not null
            ? Path.GetFullPath(configured, root)
            : new[] { Path.Combine(root, "dashboard", "dist"), Path.Combine(root, "dashboard") }.FirstOrDefault(Directory.Exists);
        if (folder is null || !Directory.Exists(folder))
        {
            app.MapGet("/", () => Results.Text("sentinel-functions (standalone): no dashboard folder found; set Standalone:DashboardPath."));
            return app;
        }

        var files = new PhysicalFileProvider(folder);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        // The same headers Static Web Apps serves (.ci/dashboard-dist): the console talks to this origin only.
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            OnPrepareResponse = context =>
            {
                var headers = context.Context.Response.Headers;
                headers.ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                headers.CacheControl = "no-cache";
            },
        });
        return app;
    }
}
