using System.Collections;
using System.Reflection;
using System.Text.RegularExpressions;
using Sentinel.Core.Configuration;

namespace Sentinel.Functions.Tests.Deployment;

/// <summary>A setting the handler reads: a configuration key pattern (<c>*</c> = any list index or dictionary key).</summary>
internal sealed record CodeSetting(string Pattern, bool Secret, bool FromHost, object? Default, string Source)
{
    public bool Matches(string key) =>
        Regex.IsMatch(key, "^" + string.Join("[^:]+", Pattern.Split('*').Select(Regex.Escape)) + "$", RegexOptions.IgnoreCase);
}

/// <summary>
/// Every setting the code reads, collected by reflection: the properties of each <see cref="SettingsSectionAttribute"/>
/// options type (walked into nested objects, lists and dictionaries, with the defaults a fresh instance has) and each
/// <see cref="AppSettingAttribute"/> constant. Registration binds options only through <c>AddSettings&lt;T&gt;</c>, which reads
/// the same attribute, so nothing the code binds escapes this list.
/// </summary>
internal static class CodeSettings
{
    public static IReadOnlyList<CodeSetting> All { get; } = Collect();

    public static CodeSetting? Find(string key) => All.FirstOrDefault(s => s.Matches(key));

    private static List<CodeSetting> Collect()
    {
        var result = new List<CodeSetting>();
        foreach (var assembly in new[] { typeof(SettingsSectionAttribute).Assembly, typeof(Sentinel.Functions.Hosting.SentinelApp).Assembly })
        {
            foreach (var type in assembly.GetTypes())
            {
                if (type.GetCustomAttribute<SettingsSectionAttribute>() is { } section)
                    Walk(type, Activator.CreateInstance(type), section.Section, secret: false, result, type.Name);
                foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
                {
                    if (field.IsLiteral && field.GetCustomAttribute<AppSettingAttribute>() is { } setting)
                        result.Add(new CodeSetting((string)field.GetRawConstantValue()!, field.GetCustomAttribute<SecretSettingAttribute>() is not null, setting.FromHost, null, $"{type.Name}.{field.Name}"));
                }
            }
        }

        return result;
    }

    private static void Walk(Type type, object? instance, string prefix, bool secret, List<CodeSetting> into, string source)
    {
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            // The binder sets public setters only; an internal one (e.g. a policy's Name, taken from its key) is not a setting.
            if (p.SetMethod is not { IsPublic: true } || p.GetIndexParameters().Length > 0)
                continue;
            var key = prefix + ":" + p.Name;
            var isSecret = secret || p.GetCustomAttribute<SecretSettingAttribute>() is not null;
            var value = instance is null ? null : p.GetValue(instance);
            WalkValue(p.PropertyType, value, key, isSecret, into, $"{source}.{p.Name}");
        }
    }

    private static void WalkValue(Type t, object? value, string key, bool secret, List<CodeSetting> into, string source)
    {
        var type = Nullable.GetUnderlyingType(t) ?? t;
        if (IsLeaf(type))
        {
            into.Add(new CodeSetting(key, secret, FromHost: false, value, source));
            return;
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            var element = type.GetGenericArguments()[1];
            WalkValue(element, null, key + ":*", secret, into, source);
            // A dictionary with entries (e.g. the built-in rate-limit policies) also offers each entry's own defaults.
            if (value is IDictionary d)
            {
                foreach (DictionaryEntry e in d)
                    WalkValue(element, e.Value, key + ":" + e.Key, secret, into, source);
            }

            return;
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            WalkValue(type.GetGenericArguments()[0], null, key + ":*", secret, into, source);
            return;
        }

        if (type.IsClass)
        {
            Walk(type, value ?? (type.GetConstructor(Type.EmptyTypes) is not null ? Activator.CreateInstance(type) : null), key, secret, into, source);
            return;
        }

        throw new InvalidOperationException($"{source}: settings of type {type.Name} are not understood by the collector.");
    }

    private static bool IsLeaf(Type t) =>
        t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(TimeSpan) || t == typeof(Uri) || t == typeof(DateTimeOffset);
}
