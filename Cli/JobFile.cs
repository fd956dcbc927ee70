using System.Text;
using System.Text.Json;
using DistributedExecutor.Contracts.V1;
using Google.Protobuf;
using YamlDotNet.RepresentationModel;

namespace DistributedExecutor.Cli;

/// <summary>
/// <c>distctl run -f job.yaml</c>: a whole JobSpec, every field the API has, written as the JSON API writes it
/// (or the same in YAML). A field the API does not have is an error naming it, never ignored.
/// </summary>
internal static class JobFile
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));

    public static JobSpec Read(string path)
    {
        string text;
        try
        {
            text = path == "-" ? Console.In.ReadToEnd() : File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"-f {path}: {ex.Message}");
        }

        var json = text.TrimStart().StartsWith('{') ? text : YamlToJson(text, path);
        try
        {
            return Parser.Parse<JobSpec>(json);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new UsageException($"-f {path}: {ex.Message}");
        }
        catch (InvalidJsonException ex)
        {
            throw new UsageException($"-f {path}: not valid JSON: {ex.Message}");
        }
    }

    private static string YamlToJson(string text, string path)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            throw new UsageException($"-f {path}: not valid YAML ({ex.Start.Line}:{ex.Start.Column}): {ex.Message}");
        }

        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new UsageException($"-f {path}: expected one YAML document holding a job (a mapping with tasks)");
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(root, writer);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Write(YamlNode node, Utf8JsonWriter writer)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                writer.WriteStartObject();
                foreach (var (key, child) in mapping.Children)
                {
                    writer.WritePropertyName(((YamlScalarNode)key).Value ?? "");
                    Write(child, writer);
                }

                writer.WriteEndObject();
                break;
            case YamlSequenceNode sequence:
                writer.WriteStartArray();
                foreach (var item in sequence.Children)
                {
                    Write(item, writer);
                }

                writer.WriteEndArray();
                break;
            case YamlScalarNode scalar:
                var value = scalar.Value ?? "";
                var plain = scalar.Style is YamlDotNet.Core.ScalarStyle.Plain or YamlDotNet.Core.ScalarStyle.Any;
                if (plain && value is "true" or "false")
                {
                    writer.WriteBooleanValue(value == "true");
                }
                else if (plain && value is "null" or "~" or "")
                {
                    writer.WriteNullValue();
                }
                else if (plain && long.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var number))
                {
                    writer.WriteNumberValue(number);
                }
                else
                {
                    writer.WriteStringValue(value);
                }

                break;
        }
    }
}
