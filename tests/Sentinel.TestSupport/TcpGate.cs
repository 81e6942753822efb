using System.Net;
using System.Net.Sockets;

namespace Sentinel.TestSupport;

/// <summary>
/// A TCP forwarder on a loopback port of its own that can be closed and opened again: closed, it refuses connections
/// and cuts the open ones — to a client, the server behind it is down. For outage tests against a real server.
/// </summary>
public sealed class TcpGate : IAsyncDisposable
{
    private readonly IPEndPoint _upstream;
    private readonly List<TcpClient> _open = [];
    private readonly Lock _lock = new();
    private TcpListener? _listener;
    private CancellationTokenSource? _stop;

    private TcpGate(int port, IPEndPoint upstream)
    {
        Port = port;
        _upstream = upstream;
    }

    public int Port { get; }

    public static TcpGate Start(IPEndPoint upstream)
    {
        var port = int.Parse(TestServers.ClosedPort().Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        var gate = new TcpGate(port, upstream);
        gate.Open();
        return gate;
    }

    public void Open()
    {
        _stop = new CancellationTokenSource();
        _listener = new TcpListener(IPAddress.Loopback, Port);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        _ = AcceptAsync(_listener, _stop.Token);
    }

    public void Close()
    {
        _stop?.Cancel();
        _listener?.Stop();
        lock (_lock)
        {
            foreach (var c in _open)
                c.Dispose();
            _open.Clear();
        }
    }

    private async Task AcceptAsync(TcpListener listener, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = PipeAsync(client, cancellationToken);
        }
    }

    private async Task PipeAsync(TcpClient client, CancellationToken cancellationToken)
    {
        using var upstream = new TcpClient();
        lock (_lock)
        {
            _open.Add(client);
            _open.Add(upstream);
        }

        try
        {
            await upstream.ConnectAsync(_upstream, cancellationToken);
            var a = client.GetStream().CopyToAsync(upstream.GetStream(), cancellationToken);
            var b = upstream.GetStream().CopyToAsync(client.GetStream(), cancellationToken);
            await Task.WhenAny(a, b);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        Close();
        _stop?.Dispose();
        return ValueTask.CompletedTask;
    }
}
