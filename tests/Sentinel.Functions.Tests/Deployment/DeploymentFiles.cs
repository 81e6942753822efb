using System.Text.RegularExpressions;

namespace Sentinel.Functions.Tests.Deployment;

/// <summary>The repository's deployment files, read as text: there is no Bicep compiler or YAML parser here, so these
/// readers understand exactly the subset our files use (and fail loudly on anything else they are asked about).</summary>
internal static partial class DeploymentFiles
{
    public static string Root { get; } = FindRoot();

    public static string Read(string relative) => File.ReadAllText(Path.Combine(Root, relative));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sentinel.Serverless.sln")))
                return dir.FullName;
        }

        throw new InvalidOperationException("Sentinel.Serverless.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A <c>param</c> with whether it has a default and an <c>@description</c>.</summary>
    public sealed record BicepParam(string Name, bool HasDefault, bool HasDescription);

    public static List<BicepParam> Params(string bicep)
    {
        var result = new List<BicepParam>();
        var lines = bicep.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var m = ParamLine().Match(lines[i]);
            if (!m.Success)
                continue;
            var described = false;
            for (var j = i - 1; j >= 0 && lines[j].TrimStart().StartsWith('@'); j--)
                described |= lines[j].TrimStart().StartsWith("@description(", StringComparison.Ordinal);
            result.Add(new BicepParam(m.Groups[1].Value, m.Groups[2].Success, described));
        }

        return result;
    }

    public static List<string> Outputs(string bicep) => [.. OutputLine().Matches(bicep).Select(m => m.Groups[1].Value)];

    /// <summary>A <c>module</c> declaration: its file and the names it passes in <c>params</c>.</summary>
    public sealed record BicepModule(string Symbol, string Path, IReadOnlySet<string> Params);

    public static List<BicepModule> Modules(string bicep)
    {
        var result = new List<BicepModule>();
        foreach (Match m in ModuleLine().Matches(bicep))
        {
            var body = Block(bicep, m.Index + m.Length - 1);
            var p = ParamsBlock().Match(body);
            var names = new HashSet<string>(StringComparer.Ordinal);
            if (p.Success)
            {
                var block = Block(body, p.Index + p.Length - 1);
                var depth = 0;
                foreach (var line in block.Split('\n').Skip(1))
                {
                    var key = KeyLine().Match(line);
                    if (depth == 0 && key.Success)
                        names.Add(key.Groups[1].Value);
                    depth += line.Count(c => c is '{' or '[') - line.Count(c => c is '}' or ']');
                }
            }

            result.Add(new BicepModule(m.Groups[1].Value, m.Groups[2].Value, names));
        }

        return result;
    }

    /// <summary>An app setting of functionapp.bicep: its name (<c>${i}</c> read as 0) and its value expression.</summary>
    public sealed record AppSetting(string Name, string Value)
    {
        /// <summary>The configuration key the handler sees (<c>__</c> → <c>:</c>).</summary>
        public string Key => Name.Replace("__", ":", StringComparison.Ordinal);

        /// <summary>The Key Vault secret named by <c>keyVaultRef['…']</c>, or null for a plain value.</summary>
        public string? KeyVaultSecret => KeyVaultValue().Match(Value) is { Success: true } m ? m.Groups[1].Value : null;

        public string? Literal => LiteralValue().Match(Value) is { Success: true } m ? m.Groups[1].Value : null;
    }

    public static List<AppSetting> AppSettings(string bicep) =>
        [.. SettingEntry().Matches(bicep).Select(m => new AppSetting(m.Groups[1].Value.Replace("${i}", "0", StringComparison.Ordinal), m.Groups[2].Value.Trim()))];

    /// <summary>The string items of a <c>var name = [ … ]</c>.</summary>
    public static List<string> ArrayVar(string bicep, string name)
    {
        var m = Regex.Match(bicep, $@"var {name} = \[");
        if (!m.Success)
            throw new InvalidOperationException($"var {name} not found");
        return [.. QuotedLine().Matches(Block(bicep, m.Index + m.Length - 1)).Select(q => q.Groups[1].Value)];
    }

    /// <summary>The value of <c>var name = 'text'</c>.</summary>
    public static string StringVar(string bicep, string name) =>
        Regex.Match(bicep, $@"^var {name} = '([^']*)'", RegexOptions.Multiline) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException($"var {name} not found");

    /// <summary>The text from the bracket at <paramref name="open"/> to its match.</summary>
    private static string Block(string text, int open)
    {
        var depth = 0;
        for (var i = open; i < text.Length; i++)
        {
            if (text[i] is '{' or '[') depth++;
            else if (text[i] is '}' or ']' && --depth == 0) return text[open..(i + 1)];
        }

        throw new InvalidOperationException("unbalanced brackets");
    }

    /// <summary>Flattens the mappings of a YAML file (indentation-based, no lists or flow style) into dotted keys.</summary>
    public static Dictionary<string, string> Yaml(string yaml)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var stack = new List<(int Indent, string Key)>();
        foreach (var raw in yaml.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.TrimStart().StartsWith('#') || line.Trim().Length == 0)
                continue;
            var m = YamlLine().Match(line);
            if (!m.Success)
                throw new InvalidOperationException("unsupported YAML line: " + line);
            var indent = m.Groups[1].Value.Length;
            stack.RemoveAll(s => s.Indent >= indent);
            var path = string.Join('.', stack.Select(s => s.Key).Append(m.Groups[2].Value));
            var value = m.Groups[3].Value.Trim();
            if (value.Length == 0)
                stack.Add((indent, m.Groups[2].Value));
            else
                values[path] = value;
        }

        return values;
    }

    [GeneratedRegex(@"^param (\w+) [\w.]+(?:\[\])?( =.*)?\s*$")]
    private static partial Regex ParamLine();

    [GeneratedRegex(@"^output (\w+) ", RegexOptions.Multiline)]
    private static partial Regex OutputLine();

    [GeneratedRegex(@"^module (\w+) '([^']+)' = \{", RegexOptions.Multiline)]
    private static partial Regex ModuleLine();

    [GeneratedRegex(@"\n  params: \{")]
    private static partial Regex ParamsBlock();

    [GeneratedRegex(@"^\s*(\w+):")]
    private static partial Regex KeyLine();

    [GeneratedRegex(@"\{ name: '([^']+)', value: (.+?) \}\s*$", RegexOptions.Multiline)]
    private static partial Regex SettingEntry();

    [GeneratedRegex(@"^keyVaultRef\['([a-z0-9-]+)'\]$")]
    private static partial Regex KeyVaultValue();

    [GeneratedRegex(@"^'([^'$]*)'$")]
    private static partial Regex LiteralValue();

    [GeneratedRegex(@"^\s*'([^']+)'\s*$", RegexOptions.Multiline)]
    private static partial Regex QuotedLine();

    [GeneratedRegex(@"^(\s*)([\w.-]+):(.*)$")]
    private static partial Regex YamlLine();
}
