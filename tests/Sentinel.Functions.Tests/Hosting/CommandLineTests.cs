using Sentinel.Functions.Hosting;

namespace Sentinel.Functions.Tests.Hosting;

public sealed class CommandLineTests
{
    [Theory]
    [InlineData(new string[0], "Serve", false)]
    [InlineData(new[] { "serve" }, "Serve", false)]
    [InlineData(new[] { "serve", "--standalone" }, "Serve", true)]
    [InlineData(new[] { "serve", "--standalone", "--urls", "http://127.0.0.1:9000" }, "Serve", true)]
    [InlineData(new[] { "migrate" }, "Migrate", false)]
    [InlineData(new[] { "metadata", "--out", "dir" }, "Metadata", false)]
    public void Parse_Verbs(string[] args, string verb, bool standalone)
    {
        var command = Command.Parse(args);

        Assert.Null(command.Error);
        Assert.Equal(Enum.Parse<Verb>(verb), command.Verb);
        Assert.Equal(standalone, command.Standalone);
    }

    [Fact]
    public void Parse_PassesTheRestOnAsConfiguration() =>
        Assert.Equal(["--urls", "http://127.0.0.1:9000"], Command.Parse(["serve", "--standalone", "--urls", "http://127.0.0.1:9000"]).Rest);

    [Theory]
    [InlineData(new[] { "metadata" }, "--out")]
    [InlineData(new[] { "metadata", "--out" }, "--out")]
    [InlineData(new[] { "deploy" }, "Unknown verb")]
    public void Parse_Mistakes_AreExplained(string[] args, string expected)
    {
        var command = Command.Parse(args);

        Assert.Equal(Verb.Help, command.Verb);
        Assert.Contains(expected, command.Error, StringComparison.Ordinal);
    }
}
