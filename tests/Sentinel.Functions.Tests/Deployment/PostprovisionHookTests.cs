using System.Diagnostics;

namespace Sentinel.Functions.Tests.Deployment;

/// <summary>
/// infra-bicep/hooks/postprovision.sh with an <c>az</c> stand-in on PATH that answers the one query the hook makes the way
/// the Azure CLI documents it (<c>--query isConfigPendingRestart -o tsv</c> prints <c>true</c> or <c>false</c>) and records
/// its calls: the hook restarts PostgreSQL exactly when a restart is pending and degrades to a note without the CLI or
/// its login (azd runs it with continueOnError, but it should not need that).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PostprovisionHookTests : IDisposable
{
    private readonly DirectoryInfo _bin = Directory.CreateTempSubdirectory("sentinel-hook-");

    public void Dispose() => _bin.Delete(recursive: true);

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public async Task RestartsPostgres_OnlyWhenARestartIsPending(string pending, bool restarts)
    {
        var calls = Path.Combine(_bin.FullName, "calls");
        WriteAz($"""
            #!/bin/sh
            echo "$*" >> '{calls}'
            case "$*" in *"parameter show"*) echo {pending} ;; esac
            """);
        var (code, output) = await RunAsync(_bin.FullName + ":/usr/bin:/bin");
        Assert.Equal(0, code);
        var log = await File.ReadAllLinesAsync(calls);
        Assert.Contains(log, l => l.Contains("postgres flexible-server parameter show --resource-group rg-sentinel-test --server-name psql-abc --name shared_preload_libraries", StringComparison.Ordinal));
        Assert.Equal(restarts, log.Any(l => l.Contains("postgres flexible-server restart --resource-group rg-sentinel-test --name psql-abc", StringComparison.Ordinal)));
        Assert.Contains("https://stapp-abc.azurestaticapps.net", output, StringComparison.Ordinal);
        Assert.Contains("az keyvault secret show --vault-name kv-abc --name admin-password", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutTheCli_SaysWhatToDo_AndSucceeds()
    {
        var (code, output) = await RunAsync("/nonexistent:/usr/bin:/bin");
        Assert.Equal(0, code);
        Assert.Contains("az CLI not found", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NotLoggedIn_IsANote_NotAFailure()
    {
        WriteAz("#!/bin/sh\necho 'Please run az login' >&2\nexit 1\n");
        var (code, output) = await RunAsync(_bin.FullName + ":/usr/bin:/bin");
        Assert.Equal(0, code);
        Assert.Contains("could not read PostgreSQL parameters", output, StringComparison.Ordinal);
    }

    private void WriteAz(string script)
    {
        var az = Path.Combine(_bin.FullName, "az");
        File.WriteAllText(az, script.Replace("\r", "", StringComparison.Ordinal) + "\n");
        File.SetUnixFileMode(az, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static async Task<(int Code, string Output)> RunAsync(string path)
    {
        var start = new ProcessStartInfo("/bin/sh", [Path.Combine(DeploymentFiles.Root, "infra-bicep", "hooks", "postprovision.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PATH"] = path;
        // What azd exports from main.bicep's outputs.
        start.Environment["AZURE_RESOURCE_GROUP"] = "rg-sentinel-test";
        start.Environment["AZURE_POSTGRES_SERVER_NAME"] = "psql-abc";
        start.Environment["AZURE_KEY_VAULT_NAME"] = "kv-abc";
        start.Environment["API_BASE_URL"] = "https://func-abc.azurewebsites.net";
        start.Environment["DASHBOARD_URL"] = "https://stapp-abc.azurestaticapps.net";
        start.Environment["SENTINEL_ADMIN_EMAIL"] = "ops@example.com";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
