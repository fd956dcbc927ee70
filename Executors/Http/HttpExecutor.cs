using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using DistributedExecutor.Contracts.Executors;
using DistributedExecutor.Contracts.Messages;
using Polly;
using Polly.Retry;

namespace DistributedExecutor.Executors.Http;

/// <summary>
/// Makes one HTTP call. The response body is the task's stdout (up to the response cap); the status line and
/// headers go to stderr. Success is a status in the expected ranges. Every connection, redirects included, is
/// checked against the address policy at connect time, after DNS.
/// </summary>
internal sealed partial class HttpExecutor : ITaskExecutor, IDisposable
{
    public const string ExecutorName = "http";
    private const int MaxRedirects = 5;

    private readonly AddressPolicy _policy;
    private readonly HttpClient _client;
    private readonly TimeProvider _time;
    private readonly ILogger<HttpExecutor> _logger;

    public HttpExecutor(AddressPolicy policy, TimeProvider time, ILogger<HttpExecutor> logger)
    {
        _policy = policy;
        _time = time;
        _logger = logger;
        var handler = new SocketsHttpHandler
        {
            // A proxy would be connected to instead of the target, so the address check would see the wrong address.
            UseProxy = false,
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = MaxRedirects,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(30),
            ConnectCallback = ConnectAsync,
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public string Name => ExecutorName;

    public void Dispose() => _client.Dispose();

    public SpecVerdict Validate(ExecuteTask task)
    {
        if (task.Http is not { } spec)
        {
            return SpecVerdict.Invalid("an http task needs an http spec");
        }

        var problems = HttpSpecRules.Check(spec, out var uri);
        if (problems.Count > 0)
        {
            return new SpecVerdict(problems, null);
        }

        if (!_policy.Enabled)
        {
            return SpecVerdict.Deny("the http executor is disabled (EXECUTOR_HTTP_ENABLED=false)");
        }

        // Names are checked where they resolve (at connect time); what needs no DNS is refused right away.
        foreach (var address in HttpSpecRules.LiteralAddresses(uri!))
        {
            if (_policy.Check(address) is { } denied)
            {
                return SpecVerdict.Deny($"{uri!.Host}: {denied}");
            }
        }

        return SpecVerdict.Ok;
    }

    public async Task<TaskRunResult> ExecuteAsync(ExecuteTask task, IOutputSink output, TaskStop stop)
    {
        // A request has nothing to clean up: either kind of stop ends it at once.
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop.Graceful, stop.Immediate);
        var cancellationToken = either.Token;
        // The worker validated the spec before calling (ITaskExecutor's contract); addresses are checked at connect.
        var spec = task.Http ?? throw new ArgumentException("not an http task", nameof(task));

        var deadline = _time.GetUtcNow() + task.Timeout;
        using var timeout = new CancellationTokenSource(task.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            // 429 and 503 are retried (Polly) as Retry-After says, else with exponential backoff and jitter, only
            // within max_retries and only while the wait still ends before the task's timeout.
            var pipeline = RetryPipeline(spec, output, deadline);
            using var response = await pipeline.ExecuteAsync(async token =>
            {
                using var request = BuildRequest(spec);
                var sent = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
                await WriteHeadAsync(sent, output).ConfigureAwait(false);
                return sent;
            }, linked.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var truncated = await CopyBodyAsync(response, output, spec.ResponseCapBytes, linked.Token).ConfigureAwait(false);
            var expected = HttpSpecRules.IsExpected(spec.ExpectedStatus, status);
            return new TaskRunResult(expected ? TaskOutcome.Succeeded : TaskOutcome.Failed, null, null,
                expected ? null : $"HTTP {status} is not an expected status ({HttpSpecRules.Describe(spec.ExpectedStatus)})")
            {
                HttpStatus = status,
                Truncated = truncated,
            };
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            return cancellationToken.IsCancellationRequested
                ? new TaskRunResult(TaskOutcome.Canceled, null, null, "canceled")
                : new TaskRunResult(TaskOutcome.TimedOut, null, null, $"timed out after {task.Timeout.TotalSeconds:0.###}s");
        }
        catch (HttpRequestException ex)
        {
            if (Find<BlockedAddressException>(ex) is { } blocked)
            {
                return TaskRunResult.Refused(blocked.Message);
            }

            LogRequestFailed(task.JobId, task.TaskId, ex.HttpRequestError);
            return new TaskRunResult(TaskOutcome.Failed, null, null, $"request failed: {Innermost(ex).Message}");
        }
    }

    private static HttpRequestMessage BuildRequest(HttpTask spec)
    {
        var request = new HttpRequestMessage(new HttpMethod(spec.Method), spec.Url);
        if (spec.Body.Length > 0 || spec.Method is "POST" or "PUT" or "PATCH")
        {
            request.Content = new ByteArrayContent(spec.Body);
        }

        foreach (var (name, value) in spec.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return request;
    }

    private static async Task WriteHeadAsync(HttpResponseMessage response, IOutputSink output)
    {
        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"HTTP/{response.Version} {(int)response.StatusCode} {response.ReasonPhrase}\n");
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {string.Join(", ", values)}\n");
        }

        await Note(output, head.ToString()).ConfigureAwait(false);
    }

    private static async Task<bool> CopyBodyAsync(HttpResponseMessage response, IOutputSink output, long cap, CancellationToken cancellationToken)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                long kept = 0;
                int read;
                while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    var keep = (int)Math.Min(read, cap - kept);
                    if (keep > 0)
                    {
                        await output.WriteAsync(OutputStreamKind.Stdout, buffer.AsMemory(0, keep)).ConfigureAwait(false);
                        kept += keep;
                    }

                    if (keep < read)
                    {
                        // The rest is not wanted: stop reading rather than download it.
                        await Note(output, $"[distexec: response body cut at {cap} bytes (response_cap_bytes)]\n").ConfigureAwait(false);
                        return true;
                    }
                }

                return false;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private ResiliencePipeline<HttpResponseMessage> RetryPipeline(HttpTask spec, IOutputSink output, DateTimeOffset deadline)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = _time };
        if (spec.MaxRetries == 0)
        {
            return builder.Build();
        }

        var wait = TimeSpan.Zero;
        return builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
        {
            MaxRetryAttempts = spec.MaxRetries,
            ShouldHandle = async args =>
            {
                if (args.Outcome.Result is not { } response || (int)response.StatusCode is not (429 or 503) || args.AttemptNumber >= spec.MaxRetries)
                {
                    return false;
                }

                var status = (int)response.StatusCode;
                wait = RetryDelay(response, args.AttemptNumber);
                if (_time.GetUtcNow() + wait < deadline)
                {
                    await Note(output, $"[distexec: {status}; retry {args.AttemptNumber + 1} of {spec.MaxRetries} in {wait.TotalSeconds:0.###}s]\n").ConfigureAwait(false);
                    return true;
                }

                await Note(output, $"[distexec: {status}; Retry-After ({wait.TotalSeconds:0.###}s) reaches past the task's timeout, not retrying]\n").ConfigureAwait(false);
                return false;
            },
            DelayGenerator = _ => ValueTask.FromResult<TimeSpan?>(wait),
        }).Build();
    }

    private TimeSpan RetryDelay(HttpResponseMessage response, int attempt)
    {
        if (response.Headers.RetryAfter is { } retryAfter)
        {
            if (retryAfter.Delta is { } delta)
            {
                return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
            }

            if (retryAfter.Date is { } date)
            {
                var wait = date - _time.GetUtcNow();
                return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
            }
        }

        return Backoff(attempt, Random.Shared);
    }

    /// <summary>No Retry-After: 1 s, 2 s, 4 s … up to 30 s, each drawn from its upper half so that clients do not retry in step.</summary>
    internal static TimeSpan Backoff(int attempt, Random random)
    {
        var ceiling = Math.Min(30, Math.Pow(2, attempt));
        return TimeSpan.FromSeconds(ceiling / 2 + (random.NextDouble() * ceiling / 2));
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        var refusals = new List<string>();
        Exception? lastError = null;
        foreach (var address in addresses)
        {
            if (_policy.Check(address) is { } refusal)
            {
                refusals.Add(refusal);
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                lastError = ex;
            }
        }

        if (lastError is not null)
        {
            throw lastError;
        }

        throw refusals.Count > 0
            ? new BlockedAddressException($"{host}: {string.Join("; ", refusals)}")
            : new SocketException((int)SocketError.HostNotFound);
    }

    private static async Task Note(IOutputSink output, string text) =>
        await output.WriteAsync(OutputStreamKind.Stderr, Encoding.UTF8.GetBytes(text)).ConfigureAwait(false);

    private static T? Find<T>(Exception? ex)
        where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is T match)
            {
                return match;
            }
        }

        return null;
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "HTTP task {TaskId} of job {JobId} failed: {Error}")]
    private partial void LogRequestFailed(Guid jobId, Guid taskId, HttpRequestError error);
}
