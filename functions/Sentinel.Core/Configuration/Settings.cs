using System.Reflection;

namespace Sentinel.Core.Configuration;

/// <summary>
/// Names the configuration section an options type is bound to (app settings <c>Section__Property</c>). Registration
/// goes through <c>AddSettings&lt;T&gt;()</c>, which binds exactly this section, so the deployment's
/// consistency test can list every setting the code reads from these types alone.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
internal sealed class SettingsSectionAttribute(string section) : Attribute
{
    public string Section { get; } = section;
}

/// <summary>A setting whose value is a secret: never logged, and in Azure always a Key Vault reference.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, Inherited = false)]
internal sealed class SecretSettingAttribute : Attribute;

/// <summary>
/// On a <c>const string</c>: the name of a setting the code reads directly from <see cref="Microsoft.Extensions.Configuration.IConfiguration"/>
/// (not through an options type). <see cref="FromHost"/> marks one the Functions host sets for the handler.
/// </summary>
[AttributeUsage(AttributeTargets.Field, Inherited = false)]
internal sealed class AppSettingAttribute : Attribute
{
    public bool FromHost { get; init; }
}

internal static class Settings
{
    /// <summary>The section <paramref name="type"/> is bound to.</summary>
    public static string SectionOf(Type type) =>
        type.GetCustomAttribute<SettingsSectionAttribute>()?.Section
        ?? throw new InvalidOperationException($"{type.Name} has no [SettingsSection].");
}
