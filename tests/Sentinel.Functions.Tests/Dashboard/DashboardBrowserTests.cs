using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Sentinel.Agent;
using Sentinel.Functions.Tests.Gateway;
using Sentinel.Functions.Tests.Relay;

namespace Sentinel.Functions.Tests.Dashboard;

/// <summary>
/// The ops console in a real browser (Debian's Chromium through Playwright .NET) against the standalone host with real
/// PostgreSQL, Redis and Azurite: sign in, every page (screenshots as artifacts, axe-core: no serious or critical
/// violation), an agent registered and run with its chart updating live, a rule created in the editor and made to fire
/// by the agent's data and silenced, a dead letter replayed, a conversation handed over, what a viewer does not see, and
/// an API error shown as a sentence.
/// </summary>
public sealed class DashboardBrowserTests(DashboardKit kit) : IClassFixture<DashboardKit>
{
    private static readonly string[] Pages = ["overview", "agents", "alerts", "insights", "gateway", "relay", "settings"];

    private static Task<bool> SoonAsync(Func<Task<bool>> condition) => SoonAsync(condition, TimeSpan.FromSeconds(20));

    private static async Task<bool> SoonAsync(Func<Task<bool>> condition, TimeSpan within)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < within)
        {
            if (await condition())
                return true;
            await Task.Delay(100);
        }

        return false;
    }

    [Fact]
    public async Task EveryPage_RendersForAnOwner_WithoutSeriousAccessibilityViolations()
    {
        var page = await kit.SignInAsync(kit.OwnerEmail);
        foreach (var name in Pages)
        {
            await page.GotoAsync($"/#/{name}");
            await page.GetByRole(AriaRole.Heading, new() { Level = 1 }).First.WaitForAsync();
            Assert.Equal(char.ToUpperInvariant(name[0]) + name[1..], await page.GetByRole(AriaRole.Heading, new() { Level = 1 }).First.TextContentAsync());
            await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
            Assert.Equal("", await page.Locator("#banner").TextContentAsync()); // no API error on a fresh tenant
            await DashboardKit.ScreenshotAsync(page, name);
            var violations = await DashboardKit.AxeAsync(page);
            Assert.True(violations.Count == 0, $"{name}: {string.Join("\n", violations)}");
        }

        // The dark theme (the system's preference) reads as well.
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
        await page.GotoAsync("/#/overview");
        await page.Locator("main[data-ready]").WaitForAsync();
        Assert.Equal("rgb(15, 18, 23)", await page.EvaluateAsync<string>("() => getComputedStyle(document.body).backgroundColor"));
        var dark = await DashboardKit.AxeAsync(page);
        Assert.True(dark.Count == 0, "dark overview: " + string.Join("\n", dark));
        await DashboardKit.ScreenshotAsync(page, "overview-dark");
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Light });

        // Empty states say what to do next.
        await page.GotoAsync("/#/agents");
        await page.GetByText("No agent yet. Register one above").WaitForAsync();
        // Usable on a phone: the navigation wraps, nothing is cut off horizontally.
        await page.SetViewportSizeAsync(390, 844);
        await page.GotoAsync("/#/overview");
        await page.GetByRole(AriaRole.Heading, new() { Name = "Overview" }).WaitForAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1"));
        await DashboardKit.ScreenshotAsync(page, "overview-phone");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task ARegisteredAgent_RunsAndItsChartUpdatesLive_ThenARuleFiresOnItsData_AndIsSilenced()
    {
        var page = await kit.SignInAsync(kit.OwnerEmail);
        await page.GotoAsync("/#/agents");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("web-browser-1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Register agent" }).ClickAsync();
        var install = await page.Locator("[data-install]").TextContentAsync();
        var match = Regex.Match(install!, "--agent (\\S+) --key-version (\\d+) --key (\\S+) --hub (\\S+) --connection '([^']+)'");
        Assert.True(match.Success, install);
        await page.GetByRole(AriaRole.Link, new() { Name = "web-browser-1" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "web-browser-1" }).WaitForAsync();
        var memory = page.Locator("[data-metric='mem.used_percent']");
        await memory.GetByText("No data in this range yet.").WaitForAsync();

        var config = new AgentConfig
        {
            AgentId = match.Groups[1].Value, KeyVersion = int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), Key = match.Groups[3].Value,
            Hub = match.Groups[4].Value, Connection = match.Groups[5].Value, IntervalSeconds = 10, HostName = "web-browser-1",
            SpoolDirectory = Directory.CreateTempSubdirectory("dashboard-agent-").FullName,
        };
        using var runner = new AgentRunner(config, TimeProvider.System, _ => { });
        await runner.CollectOnceAsync(CancellationToken.None);
        Assert.Null(await runner.Sender!.SendOnceAsync(CancellationToken.None));
        // The page polls: the chart gets its first point without a reload…
        Assert.True(await SoonAsync(async () => int.Parse(await memory.GetAttributeAsync("data-points") ?? "0", System.Globalization.CultureInfo.InvariantCulture) >= 1),
            "the memory chart drew the agent's first batch");
        var url = page.Url;
        // The 1 h range has 10 s steps: the next batch is collected in the next step, so it is a new point.
        var now = TimeProvider.System.GetUtcNow();
        await Task.Delay(TimeSpan.FromMilliseconds(10_500 - (now.ToUnixTimeMilliseconds() % 10_000)));
        await runner.CollectOnceAsync(CancellationToken.None);
        Assert.Null(await runner.Sender!.SendOnceAsync(CancellationToken.None));
        // …and its next one too, still without navigating.
        Assert.True(await SoonAsync(async () => int.Parse(await memory.GetAttributeAsync("data-points") ?? "0", System.Globalization.CultureInfo.InvariantCulture) >= 2),
            "the memory chart updated live");
        Assert.Equal(url, page.Url);
        await DashboardKit.ScreenshotAsync(page, "agent-detail");

        // A rule, through the editor: it validates as you type, previews, and is saved.
        await page.GotoAsync("/#/alerts");
        await page.GetByRole(AriaRole.Button, new() { Name = "Rules" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "New rule" }).ClickAsync();
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("Memory in use");
        await page.GetByLabel("Metric").FillAsync("mem.used_percent");
        await page.GetByLabel("Label matchers").FillAsync("");
        await page.GetByLabel("Threshold").FillAsync("ninety");
        await page.GetByText("A number.").WaitForAsync();
        await page.GetByLabel("Threshold").FillAsync("0");
        await page.GetByLabel("Comparison").SelectOptionAsync(">=");
        await page.GetByLabel("For", new() { Exact = true }).FillAsync("0s");
        await page.GetByLabel("Window").FillAsync("1m");
        await page.Locator("[data-preview]").GetByText("Over the last 24 h it would have fired").WaitForAsync();
        await DashboardKit.ScreenshotAsync(page, "rule-editor");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create rule" }).ClickAsync();
        await page.GetByRole(AriaRole.Cell, new() { Name = "Memory in use" }).WaitForAsync();

        // The agent's next batch makes it fire (evaluated right after ingest); it shows under Alerts; silence it there.
        await runner.CollectOnceAsync(CancellationToken.None);
        Assert.Null(await runner.Sender!.SendOnceAsync(CancellationToken.None));
        // Evaluated right after ingest; should that evaluation meet the minute timer's on the rule's lock, the timer's next run decides.
        await RelayKit.WaitUntilAsync(async () => (await kit.Host.Client.SendAsync(HttpMethod.Get, "/api/alerts?state=firing", null, kit.Owner)).Body.ToString()
            .Contains("Memory in use", StringComparison.Ordinal), TimeSpan.FromSeconds(75), "the rule firing on the agent's data");
        await page.GetByRole(AriaRole.Button, new() { Name = "Alerts", Exact = true }).ClickAsync();
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "Memory in use" });
        await row.GetByText("firing").WaitForAsync(new() { Timeout = 20_000 });
        await row.GetByRole(AriaRole.Button, new() { Name = "Silence" }).ClickAsync();
        await page.GetByLabel("Why").FillAsync("testing the console");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create silence" }).ClickAsync();
        await row.GetByText("silenced").WaitForAsync(new() { Timeout = 15_000 });
        await DashboardKit.ScreenshotAsync(page, "alerts-silenced");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task ADeadLetterIsReplayed_AndAConversationHandedOver_FromTheRelayPage()
    {
        var instance = RelayKit.NewInstance();
        await kit.Relay.CreateRouteAsync(kit.Relay.Route(instance, chatwoot: false));
        kit.Relay.Stack.Behaviors["n8n"] = Behavior.Gone410;
        var answer = await kit.Relay.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: "DASH-1", text: "olá"));
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        await RelayKit.WaitUntilAsync(async () => await kit.Relay.CountAsync("select count(*) from relay_deliveries where instance = $1 and state = 'dead'", instance) == 1,
            TimeSpan.FromSeconds(20), "the delivery dead-lettered by 410");
        kit.Relay.Stack.Behaviors["n8n"] = Behavior.Ok;
        // 410 disabled the target (just after the delivery died); saving the route enables it again, so the replay can be delivered.
        await RelayKit.WaitUntilAsync(async () => (await kit.Host.Client.SendAsync(HttpMethod.Get, $"/api/relay/routes/{instance}", null, kit.Owner)).Body
            .GetProperty("targets").EnumerateArray().Any(t => t.GetProperty("target").GetString() == "n8n" && t.GetProperty("disabledAt").ValueKind == System.Text.Json.JsonValueKind.String),
            TimeSpan.FromSeconds(20), "the n8n target disabled by 410");
        var (saved, savedBody, _) = await kit.Relay.Host.Client.SendAsync(HttpMethod.Put, $"/api/relay/routes/{instance}", kit.Relay.Route(instance, chatwoot: false), kit.Owner);
        Assert.True(saved == HttpStatusCode.OK, savedBody.ToString());

        var page = await kit.SignInAsync(kit.OwnerEmail);
        await page.GotoAsync("/#/relay");
        var dead = page.GetByRole(AriaRole.Table, new() { Name = "Dead letters" });
        await dead.GetByRole(AriaRole.Button, new() { Name = "Replay" }).First.ClickAsync();
        await page.GetByText("is queued again").WaitForAsync();
        await RelayKit.WaitUntilAsync(async () => await kit.Relay.CountAsync("select count(*) from relay_deliveries where instance = $1 and state = 'delivered'", instance) == 1,
            TimeSpan.FromSeconds(20), "the replayed delivery: " + await kit.Relay.ScalarAsync("select string_agg(state || ' ' || attempts || ' ' || coalesce(last_error, ''), '; ') from relay_deliveries where instance = $1", instance));

        var conversations = page.GetByRole(AriaRole.Table, new() { Name = "Conversations" });
        var row = conversations.GetByRole(AriaRole.Row).Filter(new() { HasText = instance });
        await row.GetByRole(AriaRole.Button, new() { Name = "Hand to humans" }).ClickAsync();
        await row.Locator(".status.human").WaitForAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = "Hand to bot" }).WaitForAsync();
        Assert.Equal(1, await kit.Relay.CountAsync("select count(*) from relay_conversations where instance = $1 and owner = 'human'", instance));
        await DashboardKit.ScreenshotAsync(page, "relay");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task AViewer_DoesNotSeeAdminOrOperatorActions()
    {
        var viewerEmail = GatewayClient.Email();
        var (status, _, _) = await kit.Host.Client.SendAsync(HttpMethod.Post, "/api/users", new { email = viewerEmail, role = "viewer", password = GatewayClient.Password }, kit.Owner);
        Assert.Equal(HttpStatusCode.Created, status);
        var page = await kit.SignInAsync(viewerEmail);
        var nav = page.GetByRole(AriaRole.Navigation, new() { Name = "Main" });
        Assert.Equal(0, await nav.GetByRole(AriaRole.Link, new() { Name = "Settings" }).CountAsync());
        await page.GotoAsync("/#/agents");
        await page.GetByText("No agent yet. Ask an admin").Or(page.GetByRole(AriaRole.Table, new() { Name = "Agents" })).First.WaitForAsync();
        Assert.Equal(0, await page.GetByRole(AriaRole.Button, new() { Name = "Register agent" }).CountAsync());
        await page.GotoAsync("/#/alerts");
        await page.GetByRole(AriaRole.Button, new() { Name = "Rules" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Alerts" }).WaitForAsync();
        Assert.Equal(0, await page.GetByRole(AriaRole.Button, new() { Name = "New rule" }).CountAsync());
        await page.GotoAsync("/#/settings");
        await page.GetByText("your role cannot see it").WaitForAsync();
        await DashboardKit.ScreenshotAsync(page, "viewer-settings");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task ApiErrors_AreSentences_AndAnExpiredSessionAsksToSignInAgain()
    {
        var context = await kit.Browser.NewContextAsync(new() { BaseURL = kit.Host.BaseAddress.ToString() });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/#/signin");
        // Keyboard only: the email field has the focus; Tab to the password; Enter submits.
        await page.WaitForFunctionAsync("() => document.activeElement && document.activeElement.type === 'email'");
        await page.Keyboard.TypeAsync(kit.OwnerEmail);
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.TypeAsync("not the password");
        await page.Keyboard.PressAsync("Enter");
        await page.Locator("#banner").GetByText("That email and password do not match an account.").WaitForAsync();
        await DashboardKit.ScreenshotAsync(page, "signin-error");

        // An expired access token is refreshed (rotation) without the user noticing.
        await page.GetByLabel("Password").FillAsync(GatewayClient.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Overview" }).WaitForAsync();
        var refresh = await page.EvaluateAsync<string>("() => { sessionStorage.setItem('sentinel.access', 'expired.token.value'); return sessionStorage.getItem('sentinel.refresh'); }");
        await page.GotoAsync("/#/insights");
        await page.Locator("main[data-ready]").WaitForAsync(); // the insights were read with a refreshed token
        Assert.Equal("", await page.Locator("#banner").TextContentAsync());
        Assert.NotEqual(refresh, await page.EvaluateAsync<string>("() => sessionStorage.getItem('sentinel.refresh')"));
        Assert.NotEqual("expired.token.value", await page.EvaluateAsync<string>("() => sessionStorage.getItem('sentinel.access')"));

        // Both tokens useless (signed out elsewhere): the next call lands on the sign-in page with a sentence.
        await page.EvaluateAsync("() => { sessionStorage.setItem('sentinel.access', 'expired.token.value'); sessionStorage.setItem('sentinel.refresh', 'nope'); }");
        await page.GotoAsync("/#/gateway");
        await page.GetByText("Your session has expired. Sign in again to continue.").WaitForAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Sign in to Sentinel" }).WaitForAsync();
        await context.CloseAsync();
    }

    [Fact]
    public async Task Settings_ChangeARole_RefuseLeavingNoOwner_AndAddAChatwootTarget()
    {
        var (token, _, _, _) = await kit.Host.Client.SignupAsync();
        var owner = GatewayClient.Bearer(token);
        var (_, me, _) = await kit.Host.Client.SendAsync(HttpMethod.Get, "/api/auth/me", null, owner);
        var ownerEmail = me.GetProperty("user").GetProperty("email").GetString()!;
        var colleague = GatewayClient.Email();
        await kit.Host.Client.SendAsync(HttpMethod.Post, "/api/users", new { email = colleague, role = "viewer", password = GatewayClient.Password }, owner);
        var instance = RelayKit.NewInstance();
        var (routeStatus, _, _) = await kit.Host.Client.SendAsync(HttpMethod.Post, "/api/relay/routes", kit.Relay.Route(instance), owner);
        Assert.Equal(HttpStatusCode.Created, routeStatus);

        var page = await kit.SignInAsync(ownerEmail);
        await page.GotoAsync("/#/settings");
        await page.GetByLabel($"Role of {colleague}").SelectOptionAsync("operator");
        await page.GetByText($"{colleague} is now operator.").WaitForAsync();
        var (_, users, _) = await kit.Host.Client.SendAsync(HttpMethod.Get, "/api/users", null, owner);
        Assert.Equal("operator", users.GetProperty("users").EnumerateArray().Single(u => u.GetProperty("email").GetString() == colleague).GetProperty("role").GetString());

        // The only owner cannot demote themself: the API's refusal, as a sentence, and the select goes back.
        await page.GetByLabel($"Role of {ownerEmail}").SelectOptionAsync("viewer");
        await page.Locator("#banner").GetByText("owner").WaitForAsync();
        Assert.Equal("owner", await page.GetByLabel($"Role of {ownerEmail}").InputValueAsync());

        await page.GetByLabel("Kind").SelectOptionAsync("chatwoot");
        Assert.False(await page.GetByLabel("Webhook URL", new() { Exact = true }).IsVisibleAsync());
        await page.GetByLabel("Name", new() { Exact = true }).Last.FillAsync("team inbox");
        await page.GetByLabel("Relay route (instance)").FillAsync(instance);
        await page.GetByLabel("Chatwoot conversation id").FillAsync("x");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add target" }).ClickAsync();
        await page.GetByText("A conversation number, e.g. 42.").WaitForAsync();
        await page.GetByLabel("Chatwoot conversation id").FillAsync("42");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add target" }).ClickAsync();
        await page.GetByRole(AriaRole.Cell, new() { Name = "team inbox" }).WaitForAsync();
        var (_, receivers, _) = await kit.Host.Client.SendAsync(HttpMethod.Get, "/api/alerts/receivers", null, owner);
        var added = Assert.Single(receivers.GetProperty("receivers").EnumerateArray());
        Assert.Equal("chatwoot", added.GetProperty("kind").GetString());
        Assert.Equal(42, added.GetProperty("chatwootConversationId").GetInt64());

        // A relay route from the form: refused field by field until complete, then listed with the URL to paste into Evolution.
        var routed = RelayKit.NewInstance();
        await page.GetByLabel("Instance", new() { Exact = true }).FillAsync(routed);
        await page.GetByRole(AriaRole.Button, new() { Name = "Add route" }).ClickAsync();
        await page.GetByText("Needed to send replies.").WaitForAsync();
        await page.GetByLabel("Evolution base URL").FillAsync(kit.Relay.Stack.BaseUrl + "/evolution");
        await page.GetByLabel("Evolution API key").FillAsync("evolution-instance-token");
        await page.GetByLabel("Webhook JWT key").FillAsync(RelayKit.JwtKey);
        await page.GetByLabel("n8n webhook URL").FillAsync(kit.Relay.Stack.BaseUrl + "/n8n/webhook/whatsapp");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add route" }).ClickAsync();
        await page.GetByText("n8n signing secret (shown once)").WaitForAsync();
        await page.GetByRole(AriaRole.Table, new() { Name = "Relay routes" }).GetByRole(AriaRole.Cell, new() { Name = routed, Exact = true }).WaitForAsync();
        Assert.True(await page.Locator(".notice").GetByText("n8n signing secret (shown once)").IsVisibleAsync()); // still there after the lists reloaded
        var (routeStatus2, route, _) = await kit.Host.Client.SendAsync(HttpMethod.Get, $"/api/relay/routes/{routed}", null, owner);
        Assert.Equal(HttpStatusCode.OK, routeStatus2);
        Assert.Contains(route.GetProperty("targets").EnumerateArray(), t => t.GetProperty("target").GetString() == "n8n");
        // It works: an Evolution webhook signed with that JWT key is accepted and relayed.
        var relayed = await kit.Relay.PostEvolutionAsync(routed, RelayKit.Payload("evolution-text.json", routed, keyId: "FORM-1", text: "from the form"));
        Assert.Equal(HttpStatusCode.OK, relayed.Status);

        // Edited: the n8n URL changes, the secrets left empty keep their stored values (the JWT key still verifies).
        var routeRow = page.GetByRole(AriaRole.Table, new() { Name = "Relay routes" }).GetByRole(AriaRole.Row).Filter(new() { HasText = routed });
        await routeRow.GetByRole(AriaRole.Button, new() { Name = "Edit" }).ClickAsync();
        var editor = page.Locator("form").Filter(new() { HasText = $"Edit {routed}" });
        Assert.Equal(kit.Relay.Stack.BaseUrl + "/evolution", await editor.GetByLabel("Evolution base URL").InputValueAsync());
        await editor.GetByLabel("n8n webhook URL").FillAsync(kit.Relay.Stack.BaseUrl + "/n8n/webhook/edited");
        await editor.GetByRole(AriaRole.Button, new() { Name = "Save route" }).ClickAsync();
        await page.Locator(".notice").GetByText($"Route {routed} saved.").WaitForAsync();
        var (_, edited, _) = await kit.Host.Client.SendAsync(HttpMethod.Get, $"/api/relay/routes/{routed}", null, owner);
        Assert.EndsWith("/n8n/webhook/edited", edited.GetProperty("targets").EnumerateArray().Single(t => t.GetProperty("target").GetString() == "n8n").GetProperty("url").GetString(), StringComparison.Ordinal);
        var again = await kit.Relay.PostEvolutionAsync(routed, RelayKit.Payload("evolution-text.json", routed, keyId: "FORM-2", text: "after the edit"));
        Assert.Equal(HttpStatusCode.OK, again.Status);
        await DashboardKit.ScreenshotAsync(page, "settings-edited");
        await page.Context.CloseAsync();
    }
}
