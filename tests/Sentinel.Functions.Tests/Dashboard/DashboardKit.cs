using System.Text.Json;
using Microsoft.Playwright;
using Sentinel.Functions.Tests.Deployment;
using Sentinel.Functions.Tests.Gateway;
using Sentinel.Functions.Tests.Relay;

namespace Sentinel.Functions.Tests.Dashboard;

/// <summary>
/// The console under test: the standalone host (real PostgreSQL, Redis, Azurite) serving the built dashboard
/// (<c>dashboard/dist</c>, which <c>make test</c> builds), the chatbot-stack stand-ins, an owner, and Debian's Chromium
/// driven by Playwright .NET (Playwright cannot download its own browser here; `.ci/stack` installs Chromium). One per
/// test class; each test gets its own browser context.
/// </summary>
public sealed class DashboardKit : IAsyncLifetime
{
    public static readonly string Dist = Path.Combine(DeploymentFiles.Root, "dashboard", "dist");
    public static readonly string Screenshots = Path.Combine(DeploymentFiles.Root, "artifacts", "dashboard-screenshots");

    private IPlaywright? _playwright;

    internal RelayKit Relay { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public string OwnerEmail { get; private set; } = "";

    public string Owner => Relay.Admin;

    internal SentinelTestHost Host => Relay.Host;

    public async Task InitializeAsync()
    {
        if (!File.Exists(Path.Combine(Dist, "app.js")))
            throw new InvalidOperationException($"{Dist}/app.js is missing: run 'make test' (it runs 'make dashboard' first).");
        if (!File.Exists("/usr/bin/chromium"))
            throw new InvalidOperationException("/usr/bin/chromium is missing: run 'make test' ('.ci/stack install' installs Debian's chromium).");
        // The browser and the test's own API calls share the owner's bucket; the console polls several endpoints at once.
        Relay = await RelayKit.StartAsync(new Dictionary<string, string>
        {
            ["Standalone:DashboardPath"] = Dist,
            ["RateLimiting:Policies:api:Capacity"] = "100000",
            ["RateLimiting:Policies:api:RefillPerSecond"] = "10000",
        });
        var (status, me, _) = await Host.Client.SendAsync(HttpMethod.Get, "/api/auth/me", null, Owner);
        OwnerEmail = me.GetProperty("user").GetProperty("email").GetString()!;
        Assert.Equal(System.Net.HttpStatusCode.OK, status);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            // Without the background-networking flags Chromium keeps dialling out, and this machine's network refuses it.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        Directory.CreateDirectory(Screenshots);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
            await Browser.DisposeAsync();
        _playwright?.Dispose();
        if (Relay is not null)
            await Relay.DisposeAsync();
    }

    /// <summary>A fresh context (its own session storage) on the console, signed in through the sign-in page.</summary>
    public async Task<IPage> SignInAsync(string email, string password = GatewayClient.Password, int width = 1280)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Host.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = 900 },
            ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/#/signin");
        await page.GetByLabel("Email").FillAsync(email);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Overview" }).WaitForAsync();
        return page;
    }

    /// <summary>Writes a full-page screenshot under artifacts/dashboard-screenshots/ (the test artifacts).</summary>
    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, name + ".png"), FullPage = true });

    /// <summary>Runs axe-core (npm, in dashboard/node_modules) in the page; returns the serious and critical violations.</summary>
    public static async Task<IReadOnlyList<string>> AxeAsync(IPage page)
    {
        var axe = await File.ReadAllTextAsync(Path.Combine(DeploymentFiles.Root, "dashboard", "node_modules", "axe-core", "axe.min.js"));
        // Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern.
        await page.EvaluateAsync(axe);
        var json = await page.EvaluateAsync<string>(
            "async () => JSON.stringify((await axe.run(document, { resultTypes: ['violations'] })).violations" +
            ".filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join('; ')})`))");
        return JsonSerializer.Deserialize<List<string>>(json) ?? [];
    }
}
