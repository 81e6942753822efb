using Microsoft.Extensions.Options;
using Npgsql;
using Sentinel.Core.Configuration;
using Sentinel.Core.Storage.Tables;

namespace Sentinel.Functions.Hosting;

/// <summary>
/// Where the three stores are (section <c>ConnectionStrings</c>; app settings <c>ConnectionStrings__Postgres</c>, …).
/// Validated at start: a missing or malformed one stops the process with a message naming it.
/// </summary>
[SettingsSection("ConnectionStrings")]
internal sealed class StorageOptions
{
    /// <summary>Npgsql connection string (required).</summary>
    [SecretSetting]
    public string? Postgres { get; set; }

    /// <summary>StackExchange.Redis configuration string, e.g. <c>host:6380,password=…,ssl=true</c> (required).</summary>
    [SecretSetting]
    public string? Redis { get; set; }

    /// <summary>Storage connection string for the directory tables; or leave empty and set <c>Tables:Endpoint</c> to use the managed identity.</summary>
    [SecretSetting]
    public string? Tables { get; set; }
}

/// <summary>Table storage reached through an Entra identity (section <c>Tables</c>).</summary>
[SettingsSection("Tables")]
internal sealed class TablesIdentityOptions
{
    /// <summary>The table endpoint, e.g. <c>https://acct.table.core.windows.net/</c>. Used when <c>ConnectionStrings:Tables</c> is empty.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>Client id of the user-assigned managed identity; empty for the system-assigned one.</summary>
    public string? ClientId { get; set; }
}

internal sealed class StorageOptionsValidator(IOptions<TablesIdentityOptions> tables) : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Postgres))
        {
            failures.Add("ConnectionStrings:Postgres (app setting ConnectionStrings__Postgres) is required.");
        }
        else
        {
            try
            {
                _ = new NpgsqlConnectionStringBuilder(options.Postgres);
            }
            catch (ArgumentException ex)
            {
                failures.Add($"ConnectionStrings:Postgres is not a valid Npgsql connection string: {ex.Message}");
            }
        }

        if (string.IsNullOrWhiteSpace(options.Redis))
            failures.Add("ConnectionStrings:Redis (app setting ConnectionStrings__Redis) is required.");
        if (string.IsNullOrWhiteSpace(options.Tables))
        {
            if (tables.Value.Endpoint is null)
                failures.Add("Set ConnectionStrings:Tables (a storage connection string) or Tables:Endpoint (with a managed identity).");
        }
        else
        {
            try
            {
                _ = TableStorageAccount.Parse(options.Tables);
            }
            catch (FormatException ex)
            {
                failures.Add($"ConnectionStrings:Tables: {ex.Message}");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
