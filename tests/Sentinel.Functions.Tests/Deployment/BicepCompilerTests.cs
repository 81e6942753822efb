using System.Diagnostics;
using System.Reflection;
using System.Text.Json;

namespace Sentinel.Functions.Tests.Deployment;

/// <summary>
/// The templates through the real Bicep compiler (NuGet Azure.Bicep.CommandLine.linux-x64, pinned in
/// Directory.Packages.props): main.bicep and every module compile, with the linter rules of infra-bicep/bicepconfig.json
/// (recent API versions, secure inputs, no secrets in outputs, …) and the compiler's resource-type checks at each API
/// version (an unknown property or a wrong value type is a diagnostic) all silent.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class BicepCompilerTests
{
    [Fact]
    public async Task MainBicep_CompilesWithoutDiagnostics()
    {
        var (code, stdout, stderr) = await BicepAsync("build", Path.Combine(DeploymentFiles.Root, "infra-bicep", "main.bicep"), "--stdout");
        Assert.True(code == 0 && stderr.Trim().Length == 0, $"bicep build: exit {code}\n{stderr}");

        // The ARM template azd deploys: subscription scope, the UPPER_SNAKE outputs, the generated secure parameters.
        using var arm = JsonDocument.Parse(stdout);
        Assert.Contains("subscriptionDeploymentTemplate.json", arm.RootElement.GetProperty("$schema").GetString(), StringComparison.Ordinal);
        Assert.True(arm.RootElement.GetProperty("outputs").TryGetProperty("API_BASE_URL", out _));
        var parameters = arm.RootElement.GetProperty("parameters");
        foreach (var secret in new[] { "postgresAdminPassword", "agentKeySecret", "jwtSigningSecret", "adminPassword" })
        {
            Assert.Equal("securestring", parameters.GetProperty(secret).GetProperty("type").GetString());
            Assert.Equal("generate", parameters.GetProperty(secret).GetProperty("metadata").GetProperty("azd").GetProperty("type").GetString());
        }
    }

    [Fact]
    public async Task EveryModule_LintsClean()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(DeploymentFiles.Root, "infra-bicep", "modules"), "*.bicep"))
        {
            var (code, stdout, stderr) = await BicepAsync("lint", file);
            Assert.True(code == 0 && (stdout + stderr).Trim().Length == 0, $"bicep lint {Path.GetFileName(file)}: exit {code}\n{stdout}{stderr}");
        }
    }

    [Fact]
    public async Task TheCompiler_ReportsUnknownPropertiesAndOldApiVersions()
    {
        // A property the resource type does not have, and an old API version: both must be reported, or the two tests
        // above would pass vacuously.
        var dir = Directory.CreateTempSubdirectory("sentinel-bicep-");
        try
        {
            File.Copy(Path.Combine(DeploymentFiles.Root, "infra-bicep", "bicepconfig.json"), Path.Combine(dir.FullName, "bicepconfig.json"));
            var file = Path.Combine(dir.FullName, "bad.bicep");
            await File.WriteAllTextAsync(file, """
                @description('Region.')
                param location string
                resource hub 'Microsoft.EventHub/namespaces@2021-11-01' = {
                  name: 'evhns-test'
                  location: location
                  properties: { partitionCountTypo: 4 }
                }
                """);
            var (_, _, stderr) = await BicepAsync("build", file, "--stdout");
            Assert.Contains("use-recent-api-versions", stderr, StringComparison.Ordinal);
            Assert.Contains("partitionCountTypo", stderr, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static async Task<(int Code, string Stdout, string Stderr)> BicepAsync(params string[] args)
    {
        var path = typeof(BicepCompilerTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "BicepPath").Value;
        Assert.False(string.IsNullOrEmpty(path), "BicepPath was not set at build time: is Azure.Bicep.CommandLine.linux-x64 restored?");
        Assert.True(File.Exists(path), $"{path} is missing");
        // NuGet does not keep Unix modes when it extracts a package.
        if (!File.GetUnixFileMode(path).HasFlag(UnixFileMode.UserExecute))
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute);
        var start = new ProcessStartInfo(path, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        // No telemetry and no update checks from CI.
        start.Environment["BICEP_TELEMETRY_ENABLED"] = "false";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }
}
