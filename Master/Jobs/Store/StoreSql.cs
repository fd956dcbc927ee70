using System.Data;
using System.Data.Common;

namespace DistributedExecutor.Master.Jobs.Store;

/// <summary>The few SQL helpers every part of the store uses, whichever database holds it: commands with parameters, ids.</summary>
internal static class StoreSql
{
    public static string Id(Guid id) => id.ToString("D");

    public static int Execute(DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        return command.ExecuteNonQuery();
    }

    public static object? Scalar(DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        var result = command.ExecuteScalar();
        return result is DBNull ? null : result;
    }

    /// <summary>The rows of a command, each read by <paramref name="read"/>.</summary>
    public static List<T> Rows<T>(DbCommand command, Func<DbDataReader, T> read)
    {
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    /// <summary>A number read from the database, whichever integer type its driver returned (SQLite: long; PostgreSQL: int or long).</summary>
    public static long Long(object? value) => value is null or DBNull ? 0 : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);

    public static DbCommand Command(DbConnection connection, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Bind(name, value);
        }

        return command;
    }

    /// <summary>Adds a parameter with its value (null as SQL NULL).</summary>
    public static DbParameter Bind(this DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
        return parameter;
    }

    /// <summary>Adds a parameter of a type, its value set before each run (a command run many times).</summary>
    public static DbParameter Bind(this DbCommand command, string name, DbType type)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = type;
        command.Parameters.Add(parameter);
        return parameter;
    }
}
