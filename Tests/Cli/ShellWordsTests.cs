using DistributedExecutor.Cli;

namespace DistributedExecutor.Tests.Cli;

public sealed class ShellWordsTests
{
    [Theory]
    [InlineData("hello world", new[] { "hello", "world" })]
    [InlineData("  spaced   out  ", new[] { "spaced", "out" })]
    [InlineData("'hello world'", new[] { "hello world" })]
    [InlineData("\"hello world\" x", new[] { "hello world", "x" })]
    [InlineData("a\\ b", new[] { "a b" })]
    [InlineData("'it'\\''s'", new[] { "it's" })]
    [InlineData("\"say \\\"hi\\\"\"", new[] { "say \"hi\"" })]
    [InlineData("$HOME *.txt ~", new[] { "$HOME", "*.txt", "~" })]
    [InlineData("''", new[] { "" })]
    [InlineData("; rm -rf /", new[] { ";", "rm", "-rf", "/" })]
    [InlineData("", new string[0])]
    public void Split_ShellLikeInput_WordsWithoutExpansion(string input, string[] expected) =>
        Assert.Equal(expected, ShellWords.Split(input));

    [Theory]
    [InlineData("'open")]
    [InlineData("\"open")]
    [InlineData("trailing\\")]
    public void Split_Unterminated_Throws(string input) =>
        Assert.Throws<FormatException>(() => ShellWords.Split(input));
}
