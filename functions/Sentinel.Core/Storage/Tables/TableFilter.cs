using System.Globalization;

namespace Sentinel.Core.Storage.Tables;

/// <summary>
/// Builds OData <c>$filter</c> expressions with correctly quoted literals (a <c>'</c> is doubled), so a user's value
/// can never change the shape of a filter (azure-rest-protocols.md §B4).
/// </summary>
internal static class TableFilter
{
    public static string Equal(string property, string value) => $"{property} eq {Literal(value)}";

    public static string Equal(string property, bool value) => $"{property} eq {(value ? "true" : "false")}";

    public static string PartitionKey(string partitionKey) => Equal("PartitionKey", partitionKey);

    /// <summary>Every row key that starts with <paramref name="prefix"/> in one partition (a range scan).</summary>
    public static string RowKeyPrefix(string partitionKey, string prefix) =>
        $"{PartitionKey(partitionKey)} and RowKey ge {Literal(prefix)} and RowKey lt {Literal(prefix + '\uffff')}";

    public static string And(string left, string right) => $"({left}) and ({right})";

    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    public static string Literal(DateTimeOffset value) =>
        "datetime'" + value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture) + "'";
}
