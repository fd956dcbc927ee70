using System.Text.Json.Serialization;

namespace DistributedExecutor.Master.Services;

/// <summary>Source-generated JSON for the request gate's refusals (no reflection at run time).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ErrorBody))]
internal sealed partial class GateJson : JsonSerializerContext;
