using System.Text;
using System.Text.Json;
using DistributedExecutor.Contracts.V1;
using Google.Protobuf;
using YamlDotNet.RepresentationModel;

namespace DistributedExecutor.Cli;

/// <summary>A workflow's job as its file names it: the key, the JobSpec, and the keys of the jobs it needs.</summary>
internal sealed record WorkflowJob(string Key, JobSpec Spec, IReadOnlyList<string> Needs);

/// <summary>A workflow file: its name and its jobs, in an order where each comes after those it needs.</summary>
internal sealed record Workflow(string Name, IReadOnlyList<WorkflowJob> Jobs);

/// <summary>
/// <c>distctl run -f job.yaml</c>: a whole JobSpec, every field the API has, written as the JSON API writes it
/// (or the same in YAML). A field the API does not have is an error naming it, never ignored. A file with
/// <c>jobs:</c> at its top is a workflow: named jobs, each a JobSpec with <c>needs:</c> (the keys of the jobs it
/// runs after).
/// </summary>
internal static class JobFile
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));

    public static JobSpec Read(string path) =>
        ReadAny(path) is { Job: { } job } ? job : throw new UsageException($"-f {path} holds a workflow (jobs:), not one job");

    /// <summary>The file's job, or its workflow (a top-level <c>jobs:</c> mapping).</summary>
    public static (JobSpec? Job, Workflow? Workflow) ReadAny(string path)
    {
        var json = JsonOf(path);
        using var document = ParseJson(json, path);
        if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("jobs", out _))
        {
            return (null, ReadWorkflow(document.RootElement, path));
        }

        return (ParseSpec(json, path), null);
    }

    private static Workflow ReadWorkflow(JsonElement root, string path)
    {
        var name = Path.GetFileNameWithoutExtension(path == "-" ? "workflow" : path);
        foreach (var property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "workflow" when property.Value.ValueKind == JsonValueKind.String:
                    name = property.Value.GetString()!;
                    break;
                case "jobs" when property.Value.ValueKind == JsonValueKind.Object:
                    break;
                default:
                    throw new UsageException($"-f {path}: a workflow has \"workflow\" (its name) and \"jobs\" (a mapping of named jobs); not \"{property.Name}\"");
            }
        }

        var jobs = new List<WorkflowJob>();
        foreach (var entry in root.GetProperty("jobs").EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Object)
            {
                throw new UsageException($"-f {path}: job {entry.Name} is not a mapping (a JobSpec with needs:)");
            }

            var needs = new List<string>();
            using var rest = new MemoryStream();
            using (var writer = new Utf8JsonWriter(rest))
            {
                writer.WriteStartObject();
                foreach (var field in entry.Value.EnumerateObject())
                {
                    if (field.Name == "needs")
                    {
                        needs.AddRange(field.Value.ValueKind == JsonValueKind.Array
                            ? field.Value.EnumerateArray().Select(n => n.ValueKind == JsonValueKind.String ? n.GetString()! : throw new UsageException($"-f {path}: job {entry.Name}: needs lists job names"))
                            : field.Value.ValueKind == JsonValueKind.String ? [field.Value.GetString()!] : throw new UsageException($"-f {path}: job {entry.Name}: needs lists job names"));
                    }
                    else if (field.Name is "after" or "notBefore" or "idempotencyKey")
                    {
                        throw new UsageException($"-f {path}: job {entry.Name}: {field.Name} does not go in a workflow (needs: says what it runs after)");
                    }
                    else
                    {
                        field.WriteTo(writer);
                    }
                }

                writer.WriteEndObject();
            }

            jobs.Add(new WorkflowJob(entry.Name, ParseSpec(Encoding.UTF8.GetString(rest.ToArray()), $"{path} (job {entry.Name})"), needs));
        }

        return new Workflow(name, Ordered(jobs, path));
    }

    /// <summary>The jobs with each after those it needs; an unknown need or a cycle is an error naming it.</summary>
    private static List<WorkflowJob> Ordered(List<WorkflowJob> jobs, string path)
    {
        if (jobs.Count == 0)
        {
            throw new UsageException($"-f {path}: the workflow has no jobs");
        }

        var byKey = jobs.ToDictionary(j => j.Key, StringComparer.Ordinal);
        foreach (var job in jobs)
        {
            if (job.Needs.FirstOrDefault(n => !byKey.ContainsKey(n)) is { } unknown)
            {
                throw new UsageException($"-f {path}: job {job.Key} needs {unknown}, which the workflow does not have");
            }
        }

        var ordered = new List<WorkflowJob>();
        var state = new Dictionary<string, bool>(StringComparer.Ordinal); // false: being visited, true: done
        void Visit(WorkflowJob job, List<string> trail)
        {
            if (state.TryGetValue(job.Key, out var done))
            {
                if (!done)
                {
                    throw new UsageException($"-f {path}: the jobs' needs form a cycle: {string.Join(" -> ", trail.SkipWhile(k => k != job.Key).Append(job.Key))}");
                }

                return;
            }

            state[job.Key] = false;
            foreach (var need in job.Needs)
            {
                Visit(byKey[need], [.. trail, job.Key]);
            }

            state[job.Key] = true;
            ordered.Add(job);
        }

        foreach (var job in jobs)
        {
            Visit(job, []);
        }

        return ordered;
    }

    private static JsonDocument ParseJson(string json, string path)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new UsageException($"-f {path}: not valid JSON: {ex.Message}");
        }
    }

    private static JobSpec ParseSpec(string json, string path)
    {
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

    private static string JsonOf(string path)
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

        return text.TrimStart().StartsWith('{') ? text : YamlToJson(text, path);
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
