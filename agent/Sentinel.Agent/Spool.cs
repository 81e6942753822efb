using System.Globalization;

namespace Sentinel.Agent;

/// <summary>
/// The durable, bounded disk spool: one file per batch, named by its sequence number, written to a temporary name,
/// flushed to disk and renamed (a crash leaves a whole batch or none). Sequence numbers are reserved on disk a block at a
/// time (the state file holds the highest number that may have been used), so they never repeat across restarts or
/// crashes — a crash skips the rest of a block, and gaps are harmless — for one fsync per block instead of per batch. When the spool is over its byte bound the oldest
/// batches are dropped and counted. The collector only ever writes here; the sender reads and deletes.
/// </summary>
internal sealed class Spool
{
    private const string Extension = ".batch";

    /// <summary>Sequence numbers reserved per state-file write.</summary>
    public const int SequenceBlock = 64;
    private readonly string _directory;
    private readonly long _maxBytes;
    private readonly string _statePath;
    private readonly Lock _lock = new();
    private readonly SortedDictionary<long, long> _files = []; // seq → bytes
    private long _bytes;
    private long _lastSeq;
    private long _reservedUpTo;

    public Spool(string directory, long maxBytes)
    {
        _directory = directory;
        _maxBytes = maxBytes;
        Directory.CreateDirectory(directory);
        _statePath = Path.Combine(directory, "last-seq");
        foreach (var tmp in Directory.EnumerateFiles(directory, "*.tmp"))
            File.Delete(tmp); // a write the process did not finish
        foreach (var file in Directory.EnumerateFiles(directory, "*" + Extension))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(file), NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
            {
                var size = new FileInfo(file).Length;
                _files[seq] = size;
                _bytes += size;
                _lastSeq = Math.Max(_lastSeq, seq);
            }
        }

        if (File.Exists(_statePath) && long.TryParse(File.ReadAllText(_statePath).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var saved))
            _lastSeq = Math.Max(_lastSeq, saved); // numbers up to the reservation may have been used: start after it
        _reservedUpTo = _lastSeq;
    }

    /// <summary>Batches dropped because the spool was full (since start).</summary>
    public long Dropped { get; private set; }

    public int Count
    {
        get
        {
            lock (_lock)
                return _files.Count;
        }
    }

    public long Bytes
    {
        get
        {
            lock (_lock)
                return _bytes;
        }
    }

    /// <summary>The next sequence number; its reservation is on disk before it is used.</summary>
    public long NextSequence()
    {
        lock (_lock)
        {
            _lastSeq++;
            if (_lastSeq > _reservedUpTo)
            {
                _reservedUpTo = _lastSeq + SequenceBlock - 1;
                WriteDurably(_statePath, System.Text.Encoding.ASCII.GetBytes(_reservedUpTo.ToString(CultureInfo.InvariantCulture)));
            }

            return _lastSeq;
        }
    }

    /// <summary>Stores a batch durably; drops the oldest batches while the spool is over its bound.</summary>
    public void Write(long seq, byte[] body)
    {
        WriteDurably(PathOf(seq), body);
        lock (_lock)
        {
            _files[seq] = body.Length;
            _bytes += body.Length;
            while (_bytes > _maxBytes && _files.Count > 1)
            {
                var oldest = _files.Keys.First();
                Remove(oldest);
                Dropped++;
            }
        }
    }

    /// <summary>The oldest batches, in sequence order, up to a count.</summary>
    public List<(long Seq, byte[] Body)> Peek(int max)
    {
        long[] seqs;
        lock (_lock)
            seqs = _files.Keys.Take(max).ToArray();
        var list = new List<(long, byte[])>(seqs.Length);
        foreach (var seq in seqs)
        {
            try
            {
                list.Add((seq, File.ReadAllBytes(PathOf(seq))));
            }
            catch (FileNotFoundException)
            {
                // dropped by Write while we read: skip it
            }
        }

        return list;
    }

    public void Delete(IEnumerable<long> seqs)
    {
        lock (_lock)
        {
            foreach (var seq in seqs)
                Remove(seq);
        }
    }

    private void Remove(long seq)
    {
        if (_files.Remove(seq, out var size))
            _bytes -= size;
        File.Delete(PathOf(seq));
    }

    private string PathOf(long seq) => Path.Combine(_directory, seq.ToString("D20", CultureInfo.InvariantCulture) + Extension);

    private static void WriteDurably(string path, byte[] bytes)
    {
        var tmp = path + ".tmp";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(tmp, path, overwrite: true);
    }
}
