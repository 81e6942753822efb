using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;

namespace Sentinel.Functions.Tests.Deployment;

/// <summary>azure.yaml against what the build produces: azd deploys the <c>dist</c> of each service as it is.</summary>
public sealed class AzureYamlTests
{
    private static readonly Dictionary<string, string> Yaml = DeploymentFiles.Yaml(DeploymentFiles.Read("azure.yaml"));

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Infra_IsTheBicepFolder()
    {
        Assert.Equal("bicep", Yaml["infra.provider"]);
        Assert.Equal("infra-bicep", Yaml["infra.path"]);
        Assert.True(File.Exists(Path.Combine(DeploymentFiles.Root, "infra-bicep", Yaml["infra.module"] + ".bicep")));
        var hook = Path.Combine(DeploymentFiles.Root, Yaml["hooks.postprovision.posix.run"]);
        Assert.True(File.Exists(hook), hook);
        Assert.True(File.GetUnixFileMode(hook).HasFlag(UnixFileMode.UserExecute), "the postprovision hook must be executable");
    }

    /// <summary>
    /// The api service's dist is the zip <c>make package</c> writes (which <c>make test</c> runs first), built by its
    /// prepackage hook, and that zip holds the function app with the handler's execute bit.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void ApiDist_IsWhatMakePackageProduces()
    {
        Assert.Equal("custom", Yaml["services.api.language"]);
        Assert.Equal("function", Yaml["services.api.host"]);
        Assert.Equal("make package", Yaml["services.api.hooks.prepackage.posix.run"]);
        var dist = Path.GetFullPath(Path.Combine(DeploymentFiles.Root, Yaml["services.api.project"], Yaml["services.api.dist"]));

        var packageDir = Environment.GetEnvironmentVariable("SENTINEL_PACKAGE_DIR");
        Assert.False(string.IsNullOrEmpty(packageDir), "SENTINEL_PACKAGE_DIR is not set: run 'make test', which runs 'make package' first.");
        var produced = Path.GetFullPath(Path.Combine(packageDir, "..", "functionapp.zip"));
        Assert.Equal(produced, dist);
        Assert.True(File.Exists(dist), $"{dist} does not exist: 'make package' did not produce it");
        Assert.True(File.GetLastWriteTimeUtc(dist) >= File.GetLastWriteTimeUtc(Path.Combine(packageDir, "host.json")), "the zip is older than the package folder");

        using var hostJson = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(DeploymentFiles.Root, "host.json")));
        var handler = hostJson.RootElement.GetProperty("customHandler").GetProperty("description").GetProperty("defaultExecutablePath").GetString()!;
        using var zip = ZipFile.OpenRead(dist);
        var entry = zip.GetEntry(handler);
        Assert.NotNull(entry);
        Assert.True(((UnixFileMode)((entry.ExternalAttributes >> 16) & 0x1FF)).HasFlag(UnixFileMode.UserExecute), "the handler lost its execute bit in the zip");
        Assert.NotNull(zip.GetEntry("host.json"));
        Assert.All(Sentinel.Functions.Functions.FunctionRegistry.All, f => Assert.NotNull(zip.GetEntry($"{f.Name}/function.json")));
    }

    /// <summary>The web service's dist is what its hook builds: the dashboard with config.json naming the API and a CSP
    /// that lets the browser call exactly that origin.</summary>
    [Fact]
    public async Task WebDist_IsWhatTheDashboardTargetBuilds()
    {
        Assert.Equal("staticwebapp", Yaml["services.web.host"]);
        Assert.Equal("make -C .. dashboard", Yaml["services.web.hooks.prepackage.posix.run"]);
        Assert.Equal(
            Path.GetFullPath(Path.Combine(DeploymentFiles.Root, "dashboard", "dist")),
            Path.GetFullPath(Path.Combine(DeploymentFiles.Root, Yaml["services.web.project"], Yaml["services.web.dist"])));
        var makefile = DeploymentFiles.Read("Makefile");
        Assert.Matches(@"(?m)^dashboard:.*\n\t\.ci/dashboard-dist$", makefile);
        Assert.Contains("out=\"${DASHBOARD_DIST:-dashboard/dist}\"", DeploymentFiles.Read(".ci/dashboard-dist"), StringComparison.Ordinal);

        var output = Directory.CreateTempSubdirectory("sentinel-dashboard-dist-");
        try
        {
            var (code, text) = await RunAsync(new() { ["API_BASE_URL"] = "https://func-abc.azurewebsites.net", ["DASHBOARD_DIST"] = output.FullName });
            Assert.True(code == 0, text);
            using var config = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output.FullName, "config.json")));
            Assert.Equal("https://func-abc.azurewebsites.net/", config.RootElement.GetProperty("apiBaseUrl").GetString());
            Assert.True(File.Exists(Path.Combine(output.FullName, "index.html")));
            using var swa = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output.FullName, "staticwebapp.config.json")));
            var csp = swa.RootElement.GetProperty("globalHeaders").GetProperty("Content-Security-Policy").GetString()!;
            Assert.Contains("connect-src 'self' https://func-abc.azurewebsites.net;", csp, StringComparison.Ordinal);
            Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);

            // Anything but an origin is refused rather than written into the CSP.
            (code, text) = await RunAsync(new() { ["API_BASE_URL"] = "https://x.net; script-src *", ["DASHBOARD_DIST"] = output.FullName });
            Assert.NotEqual(0, code);
            Assert.Contains("must be an origin", text, StringComparison.Ordinal);
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    private static async Task<(int Code, string Output)> RunAsync(Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(Path.Combine(DeploymentFiles.Root, ".ci", "dashboard-dist"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = DeploymentFiles.Root,
        };
        foreach (var (k, v) in environment)
            start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
