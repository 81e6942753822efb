using System.Buffers;

namespace Sentinel.Functions.Http;

/// <summary>Reading a request body with a size limit, for endpoints that need the raw bytes (signatures, batches).</summary>
internal static class RequestBodies
{
    /// <summary>
    /// The body, or null when it is larger than <paramref name="max"/> bytes. With <paramref name="drainTo"/> above the
    /// limit, an oversized body is still read (and dropped) up to that many bytes, so a sender that is still writing gets
    /// the 413 instead of a reset connection; beyond it reading stops at once.
    /// </summary>
    public static async Task<byte[]?> ReadBoundedAsync(Stream body, long max, long drainTo, CancellationToken cancellationToken)
    {
        var chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            using var collected = new MemoryStream();
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                total += read;
                if (total > max)
                {
                    if (total > drainTo)
                        return null;
                    continue;
                }

                collected.Write(chunk, 0, read);
            }

            return total > max ? null : collected.ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}
