using System.Text;

namespace DistributedExecutor.Cli;

/// <summary>
/// Splits a string into words the way a POSIX shell does, without expanding anything: quotes group, a
/// backslash escapes, <c>$</c>, <c>*</c> and <c>~</c> stay literal. Used for <c>--args "hello world"</c>.
/// </summary>
internal static class ShellWords
{
    public static IReadOnlyList<string> Split(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case ' ' or '\t' or '\n' or '\r':
                    if (inWord)
                    {
                        words.Add(word.ToString());
                        word.Clear();
                        inWord = false;
                    }

                    break;
                case '\'':
                    inWord = true;
                    var close = text.IndexOf('\'', i + 1);
                    if (close < 0)
                    {
                        throw new FormatException("unterminated single quote");
                    }

                    word.Append(text, i + 1, close - i - 1);
                    i = close;
                    break;
                case '"':
                    inWord = true;
                    i++;
                    for (; i < text.Length && text[i] != '"'; i++)
                    {
                        // Inside double quotes a backslash escapes only these, as in sh.
                        if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] is '"' or '\\' or '$' or '`' or '\n')
                        {
                            i++;
                        }

                        word.Append(text[i]);
                    }

                    if (i >= text.Length)
                    {
                        throw new FormatException("unterminated double quote");
                    }

                    break;
                case '\\':
                    inWord = true;
                    if (i + 1 >= text.Length)
                    {
                        throw new FormatException("a trailing backslash escapes nothing");
                    }

                    word.Append(text[++i]);
                    break;
                default:
                    inWord = true;
                    word.Append(c);
                    break;
            }
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        return words;
    }
}
