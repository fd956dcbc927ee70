using System.CommandLine;
using System.Text;
using System.Text.Json;
using Google.Protobuf;

namespace DistributedExecutor.Cli;

/// <summary>
/// <c>-o table|wide|json|yaml|name</c> and <c>-q</c> on the read verbs, as kubectl has them: a table for people,
/// the API's own JSON (the field names of the JSON API, stable) or the same as YAML for scripts, ids alone.
/// </summary>
internal static class OutputFormat
{
    public const string Table = "table";
    public const string Wide = "wide";
    public const string Json = "json";
    public const string Yaml = "yaml";
    public const string Name = "name";

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    public static Option<string> Option()
    {
        var option = new Option<string>("--output", "-o")
        {
            Description = "table (default), wide, json, yaml (the API's JSON field names) or name (ids only)",
            DefaultValueFactory = _ => Table,
        };
        option.AcceptOnlyFromAmong(Table, Wide, Json, Yaml, Name, "text");
        return option;
    }

    public static Option<bool> Quiet() => new("--quiet", "-q") { Description = "Print ids only (as -o name)" };

    /// <summary>The format asked for: -q means name; "text" is the old name of table.</summary>
    public static string Of(ParseResult result, Option<string> output, Option<bool>? quiet = null) =>
        quiet is not null && result.GetValue(quiet) ? Name : result.GetValue(output) is "text" or null ? Table : result.GetValue(output)!;

    /// <summary>Writes <paramref name="items"/> as JSON or YAML (a list as an array), or their ids; false for the table formats.</summary>
    public static bool TryWrite<T>(string format, IReadOnlyList<T> items, Func<T, string> id, bool single = false)
        where T : IMessage
    {
        switch (format)
        {
            case Name:
                foreach (var item in items)
                {
                    Console.Out.WriteLine(Formatting.Safe(id(item)));
                }

                return true;
            case Json or Yaml:
                var json = single ? Formatter.Format(items[0]) : "[" + string.Join(",", items.Select(i => Formatter.Format(i))) + "]";
                if (format == Json)
                {
                    using var document = JsonDocument.Parse(json);
                    Console.Out.WriteLine(JsonSerializer.Serialize(document.RootElement, CliJson.Default.JsonElement));
                }
                else
                {
                    using var document = JsonDocument.Parse(json);
                    var yaml = new StringBuilder();
                    WriteYaml(document.RootElement, 0, yaml);
                    Console.Out.Write(yaml.ToString());
                }

                return true;
            default:
                return false;
        }
    }

    /// <summary>YAML for a JSON value: block mappings and sequences, strings double-quoted as JSON quotes them (valid YAML).</summary>
    internal static void WriteYaml(JsonElement element, int indent, StringBuilder yaml)
    {
        var pad = new string(' ', indent);
        switch (element.ValueKind)
        {
            case JsonValueKind.Object when element.EnumerateObject().Any():
                foreach (var property in element.EnumerateObject())
                {
                    yaml.Append(pad).Append(property.Name).Append(':');
                    WriteValue(property.Value, indent, yaml);
                }

                break;
            case JsonValueKind.Array when element.GetArrayLength() > 0:
                foreach (var item in element.EnumerateArray())
                {
                    yaml.Append(pad).Append('-');
                    WriteValue(item, indent, yaml);
                }

                break;
            default:
                yaml.Append(pad).Append(Scalar(element)).Append('\n');
                break;
        }
    }

    private static void WriteValue(JsonElement value, int indent, StringBuilder yaml)
    {
        if (value.ValueKind is JsonValueKind.Object or JsonValueKind.Array && Scalar(value) is not ("{}" or "[]"))
        {
            yaml.Append('\n');
            WriteYaml(value, indent + 2, yaml);
        }
        else
        {
            yaml.Append(' ').Append(Scalar(value)).Append('\n');
        }
    }

    private static string Scalar(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object when !value.EnumerateObject().Any() => "{}",
        JsonValueKind.Array when value.GetArrayLength() == 0 => "[]",
        JsonValueKind.String => JsonSerializer.Serialize(value.GetString(), CliJson.Default.String),
        _ => value.GetRawText(),
    };
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(JsonElement))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class CliJson : System.Text.Json.Serialization.JsonSerializerContext;
