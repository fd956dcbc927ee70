namespace DistributedExecutor.Contracts.Executors;

/// <summary>The result of validating a spec: every problem found, and whether policy forbids it.</summary>
public sealed record SpecVerdict(IReadOnlyList<string> Problems, string? Denied)
{
    public static readonly SpecVerdict Ok = new([], null);

    public bool IsValid => Problems.Count == 0 && Denied is null;

    public static SpecVerdict Invalid(params string[] problems) => new(problems, null);

    public static SpecVerdict Deny(string reason) => new([], reason);
}
