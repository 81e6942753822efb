using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Sentinel.Core.Identity;
using Sentinel.Core.Relay;
using Sentinel.Functions.Functions;
using Sentinel.Functions.Hosting;

namespace Sentinel.Functions.Tests.Deployment;

/// <summary>
/// infra-bicep against the code (there is no Bicep compiler or Azure here, so this is what keeps them honest): the
/// function app module sets every setting the handler needs, sets nothing the handler and host do not read, puts every
/// secret behind a Key Vault reference, and names the same functions, bindings, hub, consumer group and tables as the code.
/// </summary>
public sealed partial class DeploymentConsistencyTests
{
    private static readonly string FunctionAppBicep = DeploymentFiles.Read("infra-bicep/modules/functionapp.bicep");
    private static readonly string MainBicep = DeploymentFiles.Read("infra-bicep/main.bicep");
    private static readonly List<DeploymentFiles.AppSetting> Settings = DeploymentFiles.AppSettings(FunctionAppBicep);

    /// <summary>Settings only the Functions host or the platform reads
    /// (https://learn.microsoft.com/azure/azure-functions/functions-app-settings), plus each trigger's connection prefix.</summary>
    private static readonly string[] HostSettings =
    [
        "AzureWebJobsStorage:*", "APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME",
        .. FunctionRegistry.All.Select(f => f.Trigger).OfType<EventHubTrigger>().Select(t => t.Connection + ":*"),
    ];

    /// <summary>
    /// Settings with no default value that the module leaves unset, and what their absence means. A new nullable
    /// setting fails <see cref="SettingsWithoutDefault_AreSetOrSafelyAbsent"/> until someone decides and writes it here.
    /// </summary>
    private static readonly Dictionary<string, string> AbsentMeans = new(StringComparer.OrdinalIgnoreCase)
    {
        ["ConnectionStrings:Tables"] = "Tables:Endpoint + Tables:ClientId (the identity) are used instead of a key.",
        ["Identity:SigningKeyDirectory"] = "keys come from Identity:SigningKeys (derived from the Key Vault secret).",
        ["Identity:SigningKeys:*:PrivateKeyPem"] = "the key is derived from Identity:SigningKeys:*:Secret instead.",
        ["RateLimiting:TrustForwardedFor"] = "trusted under the Functions host (only it reaches the loopback port).",
        ["Redis:KeyPrefix"] = "keys are prefixed sentinel:.",
        ["Standalone:EventHubKey"] = "standalone mode only.",
        ["Standalone:DashboardPath"] = "standalone mode only.",
        ["Hosting:PublicUrl"] = "URLs handed out use https://$WEBSITE_HOSTNAME (set a custom domain here).",
    };

    /// <summary>What each Key Vault secret holds, in the shape secrets.bicep writes it.</summary>
    private static readonly Dictionary<string, string> SecretSamples = new(StringComparer.Ordinal)
    {
        ["postgres-connection-string"] = "Host=psql-abc.postgres.database.azure.com;Port=5432;Database=sentinel;Username=sentinel;SSL Mode=VerifyFull;Password=" + new string('p', 40),
        ["redis-connection-string"] = "amr-abc.westeurope.redis.azure.net:10000,password=" + new string('r', 44) + ",ssl=True,abortConnect=False",
        ["agent-key-secret"] = new string('a', 48),
        ["agent-connection-string"] = "Endpoint=sb://evhns-abc.servicebus.windows.net/;SharedAccessKeyName=agent-send;SharedAccessKey=" + new string('k', 44) + ";EntityPath=agent-metrics",
        ["jwt-signing-secret"] = new string('j', 48),
        ["admin-password"] = new string('w', 24),
    };

    /// <summary>What each non-secret Bicep expression evaluates to in a typical deployment.</summary>
    private static readonly Dictionary<string, string> ExpressionSamples = new(StringComparer.Ordinal)
    {
        ["storage.name"] = "stabc",
        ["identityClientId"] = "00000000-0000-0000-0000-000000000001",
        ["appInsightsConnectionString"] = "InstrumentationKey=00000000-0000-0000-0000-000000000002;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",
        ["'ClientId=${identityClientId};Authorization=AAD'"] = "ClientId=00000000-0000-0000-0000-000000000001;Authorization=AAD",
        ["eventHubsNamespaceFqdn"] = "evhns-abc.servicebus.windows.net",
        ["metricsHubName"] = "agent-metrics",
        ["metricsConsumerGroup"] = "ingest",
        ["storage.properties.primaryEndpoints.table"] = "https://stabc.table.core.windows.net/",
        ["tablePrefix"] = "sentinel",
        ["signup"] = "closed",
        ["adminEmail"] = "admin@sentinel.local",
        ["trim(jwtSigningKeyIds[i])"] = "k1",
        ["jwtActiveSigningKeyId"] = "",
    };

    [Fact]
    public void TheReaders_FindTheModuleSettings()
    {
        // Guards the text readers themselves: if a refactor of the module hid its settings from them, every other
        // test here would pass vacuously.
        Assert.True(Settings.Count >= 20, $"only {Settings.Count} app settings read from functionapp.bicep");
        Assert.Contains(Settings, s => s.Name == "ConnectionStrings__Postgres" && s.KeyVaultSecret == "postgres-connection-string");
        Assert.Contains(Settings, s => s.Name == "Identity__SigningKeys__0__Secret");
        Assert.Contains(CodeSettings.All, s => s.Pattern == "Relay:RetrySchedule");
        Assert.Contains(CodeSettings.All, s => s.Pattern == "RateLimiting:Policies:*:Capacity");
    }

    [Fact]
    public void EveryModuleSetting_IsReadByTheHandlerOrTheHost()
    {
        var unread = Settings.Where(s => CodeSettings.Find(s.Key) is null && !HostSettings.Any(h => Glob(h, s.Key))).Select(s => s.Name).ToList();
        Assert.True(unread.Count == 0, "set by functionapp.bicep but read by nothing: " + string.Join(", ", unread));
        Assert.Equal(Settings.Count, Settings.Select(s => s.Key).Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    [Fact]
    public void EverySecret_IsAKeyVaultReference()
    {
        foreach (var s in Settings)
        {
            var code = CodeSettings.Find(s.Key);
            // Marked secret in code, or named like one (the App Insights connection string is not a credential: ingestion
            // needs the identity, APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
            var secretLike = code?.Secret == true || (SecretName().IsMatch(s.Name) && s.Name != "APPLICATIONINSIGHTS_CONNECTION_STRING");
            if (secretLike)
                Assert.True(s.KeyVaultSecret is not null, $"{s.Name} is a secret but its value is not a Key Vault reference: {s.Value}");
            Assert.DoesNotMatch(CredentialText(), s.Value);
        }

        // Each referenced secret exists in Key Vault, and each secret in Key Vault is used.
        var stored = DeploymentFiles.ArrayVar(DeploymentFiles.Read("infra-bicep/modules/secrets.bicep"), "names");
        var referenced = Settings.Select(s => s.KeyVaultSecret).OfType<string>().ToHashSet();
        Assert.Equal(stored.Order(), referenced.Order());
        Assert.Equal(stored.Order(), SecretSamples.Keys.Order());
    }

    [Fact]
    public void TheModuleSettings_StartTheHandler()
    {
        var settings = Evaluate(Settings);
        using (var app = Build(settings))
        {
            // Every ValidateOnStart check passes: required settings present and well formed.
            app.Services.GetRequiredService<IStartupValidator>().Validate();
            var ring = app.Services.GetRequiredService<SigningKeyRing>();
            Assert.Equal("k1", ring.Active.Id);
            Assert.Equal("closed", app.Services.GetRequiredService<IdentityOptions>().Signup);
            Assert.Equal(new Uri("https://stabc.table.core.windows.net/"), app.Services.GetRequiredService<IOptions<TablesIdentityOptions>>().Value.Endpoint);
        }

        // The check can fail: without the database, or without the signing secret, the handler refuses to start.
        foreach (var missing in new[] { "ConnectionStrings:Postgres", "Monitoring:AgentKeySecret", "Identity:SigningKeys:0:Secret" })
        {
            using var app = Build(settings.Where(kv => !kv.Key.Equals(missing, StringComparison.OrdinalIgnoreCase)).ToDictionary());
            Assert.ThrowsAny<OptionsValidationException>(() => app.Services.GetRequiredService<IStartupValidator>().Validate());
        }
    }

    [Fact]
    public void SettingsWithoutDefault_AreSetOrSafelyAbsent()
    {
        var undecided = CodeSettings.All
            // [AppSetting(FromHost = true)]: the Functions host or the platform sets it for the handler.
            .Where(s => !s.FromHost)
            .Where(s => s.Default is null || (s.Default is string text && text.Length == 0))
            .Where(s => !Settings.Any(b => s.Matches(b.Key)))
            .Where(s => !SentinelConfiguration.Defaults.Keys.Any(s.Matches))
            .Where(s => !AbsentMeans.ContainsKey(s.Pattern))
            .Select(s => $"{s.Pattern} ({s.Source})")
            .ToList();
        Assert.True(undecided.Count == 0, "no default, not set by functionapp.bicep, and no decision in AbsentMeans: " + string.Join(", ", undecided));
        var stale = AbsentMeans.Keys.Where(k => !CodeSettings.All.Any(s => s.Pattern.Equals(k, StringComparison.OrdinalIgnoreCase))).ToList();
        Assert.True(stale.Count == 0, "AbsentMeans names settings the code no longer has: " + string.Join(", ", stale));
    }

    [Fact]
    public void FunctionsAndBindings_MatchTheRegistry()
    {
        var keys = Settings.Select(s => s.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var f in FunctionRegistry.All)
        {
            // Every %Setting% a binding resolves is set by the module.
            var bindingText = f.Trigger switch
            {
                EventHubTrigger e => e.EventHubName + e.ConsumerGroup,
                TimerTrigger t => t.Schedule,
                _ => "",
            };
            foreach (Match m in Regex.Matches(bindingText, "%([^%]+)%"))
                Assert.Contains(m.Groups[1].Value, keys);
            if (f.Trigger is EventHubTrigger eh)
            {
                // Identity-based connection: the prefix the binding names, with the namespace, credential and client id.
                foreach (var part in new[] { "fullyQualifiedNamespace", "credential", "clientId" })
                    Assert.Contains($"{eh.Connection}:{part}", keys);
            }
        }

        // Per-function settings in the Bicep (always-ready `function:<name>`, AzureWebJobs.<name>.Disabled) name real functions.
        foreach (Match m in FunctionReference().Matches(FunctionAppBicep + MainBicep))
            Assert.NotNull(FunctionRegistry.Find(m.Groups[1].Value));

        // The hub and consumer group Azure creates are the ones local runs default to, and the module passes them on.
        Assert.Equal(SentinelConfiguration.Defaults[FunctionRegistry.MetricsHubSetting], DeploymentFiles.StringVar(MainBicep, "metricsHubName"));
        Assert.Equal(SentinelConfiguration.Defaults[FunctionRegistry.MetricsConsumerGroupSetting], DeploymentFiles.StringVar(MainBicep, "ingestConsumerGroup"));
        Assert.Equal("metricsHubName", Settings.Single(s => s.Name == FunctionRegistry.MetricsHubSetting).Value);
        Assert.Equal("metricsConsumerGroup", Settings.Single(s => s.Name == FunctionRegistry.MetricsConsumerGroupSetting).Value);

        // The tables the storage module creates are the directory's and the relay's.
        var prefix = DeploymentFiles.StringVar(MainBicep, "tablePrefix");
        Assert.Equal(new IdentityOptions().TablePrefix, prefix);
        var bicepTables = DeploymentFiles.ArrayVar(DeploymentFiles.Read("infra-bicep/modules/storage.bicep"), "tableNames").Select(t => t.Replace("${tablePrefix}", prefix, StringComparison.Ordinal));
        Assert.Equal(IdentityDirectory.TableNames(prefix).Concat(RelayRouteStore.TableNames(prefix)).Order(), bicepTables.Order());
    }

    [Fact]
    public void BicepFiles_AreWiredAndDescribed()
    {
        var dir = Path.Combine(DeploymentFiles.Root, "infra-bicep");
        var files = Directory.GetFiles(dir, "*.bicep", SearchOption.AllDirectories);
        Assert.True(files.Length >= 10, $"{files.Length} Bicep files");
        foreach (var file in files)
        {
            var text = File.ReadAllText(file);
            var parameters = DeploymentFiles.Params(text);
            Assert.All(parameters, p => Assert.True(p.HasDescription, $"{Path.GetFileName(file)}: param {p.Name} has no @description"));
            // Every module a file uses exists, receives only parameters it declares, and every parameter it requires.
            foreach (var module in DeploymentFiles.Modules(text))
            {
                var path = Path.Combine(Path.GetDirectoryName(file)!, module.Path);
                Assert.True(File.Exists(path), $"{module.Symbol}: {module.Path} does not exist");
                var declared = DeploymentFiles.Params(File.ReadAllText(path));
                Assert.All(module.Params, p => Assert.True(declared.Any(d => d.Name == p), $"{module.Symbol} passes {p}, which {module.Path} does not declare"));
                Assert.All(declared.Where(d => !d.HasDefault), d => Assert.True(module.Params.Contains(d.Name), $"{module.Symbol} does not pass {d.Name}, which {module.Path} requires"));
            }
        }

        // azd reads UPPER_SNAKE outputs into the environment; the hooks and README use these names.
        var outputs = DeploymentFiles.Outputs(MainBicep);
        Assert.All(outputs, o => Assert.Matches("^[A-Z][A-Z0-9_]*$", o));
        foreach (var needed in new[] { "API_BASE_URL", "DASHBOARD_URL", "AZURE_KEY_VAULT_NAME", "AZURE_RESOURCE_GROUP", "AZURE_POSTGRES_SERVER_NAME", "SENTINEL_ADMIN_EMAIL" })
            Assert.Contains(needed, outputs);
        Assert.Contains("targetScope = 'subscription'", MainBicep);

        // main.parameters.json only fills parameters main.bicep declares; the generated secrets are left to azd.
        using var json = System.Text.Json.JsonDocument.Parse(DeploymentFiles.Read("infra-bicep/main.parameters.json"));
        var mainParams = DeploymentFiles.Params(MainBicep);
        foreach (var p in json.RootElement.GetProperty("parameters").EnumerateObject())
            Assert.True(mainParams.Any(m => m.Name == p.Name), $"main.parameters.json sets {p.Name}, which main.bicep does not declare");
        foreach (var generated in new[] { "postgresAdminPassword", "agentKeySecret", "jwtSigningSecret", "adminPassword" })
        {
            Assert.False(json.RootElement.GetProperty("parameters").TryGetProperty(generated, out _), $"{generated} must be generated by azd, not mapped");
            Assert.Matches(@"@secure\(\)[\s\S]*?@metadata\(\{ azd: \{ type: 'generate'[\s\S]*?param " + generated + " string", MainBicep);
        }
    }

    /// <summary>The <c>func start</c> template names only settings something reads (a typo there is a silent default).</summary>
    [Fact]
    public void LocalSettingsExample_NamesOnlyReadSettings()
    {
        var values = SentinelConfiguration.ReadLocalSettings(Path.Combine(DeploymentFiles.Root, "local.settings.example.json"));
        Assert.NotEmpty(values);
        // func start's own settings, and the connection the Event Hubs emulator uses.
        string[] local = ["FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage", .. FunctionRegistry.All.Select(f => f.Trigger).OfType<EventHubTrigger>().Select(t => t.Connection)];
        var unread = values.Keys.Where(k => CodeSettings.Find(k) is null && !HostSettings.Any(h => Glob(h, k)) && !local.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList();
        Assert.True(unread.Count == 0, "local.settings.example.json names settings nothing reads: " + string.Join(", ", unread));
    }

    private static WebApplication Build(Dictionary<string, string?> settings) =>
        SentinelApp.Build(HostMode.Functions, ["--urls", "http://127.0.0.1:0"], b =>
        {
            // Only the defaults and the module's settings: nothing from this machine's environment.
            b.Configuration.Sources.Clear();
            b.Configuration.AddInMemoryCollection(SentinelConfiguration.Defaults);
            b.Configuration.AddInMemoryCollection(settings);
        });

    /// <summary>The module's settings as the handler will see them: Key Vault references resolved to values of the
    /// secret's shape, expressions to typical values.</summary>
    private static Dictionary<string, string?> Evaluate(IEnumerable<DeploymentFiles.AppSetting> settings) =>
        settings.ToDictionary(
            s => s.Key,
            s => (string?)(s.KeyVaultSecret is { } secret ? SecretSamples[secret]
                : s.Literal ?? (ExpressionSamples.TryGetValue(s.Value, out var v) ? v : throw new InvalidOperationException($"No sample for {s.Name} = {s.Value}; add one to ExpressionSamples."))),
            StringComparer.OrdinalIgnoreCase);

    private static bool Glob(string pattern, string key) =>
        Regex.IsMatch(key, "^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal) + "$", RegexOptions.IgnoreCase);

    [GeneratedRegex("password|secret|connectionstring|connection_string|privatekey|accesskey|sharedaccess", RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    /// <summary>Text that would be a credential written into an app setting.</summary>
    [GeneratedRegex("Password=|AccountKey=|SharedAccessKey=|BEGIN (EC )?PRIVATE KEY", RegexOptions.IgnoreCase)]
    private static partial Regex CredentialText();

    [GeneratedRegex(@"(?:function:|AzureWebJobs\.)([a-z][a-z0-9-]*)")]
    private static partial Regex FunctionReference();
}
