namespace Sentinel.TestSupport;

/// <summary>
/// Addresses of the real PostgreSQL, Redis and Azurite the repo's own scripts start (<c>.ci/stack up</c>, which
/// <c>make test</c> runs first). A missing address fails the test with a message saying how to start them: a test
/// never passes silently without its server.
/// </summary>
public static class TestServers
{
    public static string Postgres => Require("SENTINEL_TEST_POSTGRES");

    public static string Redis => Require("SENTINEL_TEST_REDIS");

    public static string Tables => Require("SENTINEL_TEST_TABLES");

    /// <summary>A loopback address where nothing listens, for "dependency down" tests.</summary>
    public static string ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"127.0.0.1:{port}";
    }

    private static string Require(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{name} is not set. Run the tests with 'make test' (it starts PostgreSQL, Redis and Azurite and exports their addresses), " +
                "or '.ci/stack up && . .data/stack.env' before 'dotnet test'.");
}
