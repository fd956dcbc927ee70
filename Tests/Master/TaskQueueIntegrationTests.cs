using DistributedExecutor.Contracts.Messages;
using DistributedExecutor.Contracts.V1;
using DistributedExecutor.Hosting.Bus;
using DistributedExecutor.Tests.Fixtures;
using DistributedExecutor.Worker.Extensions;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace DistributedExecutor.Tests.Master;

/// <summary>The master against a real RabbitMQ, before any worker exists.</summary>
[Trait("Category", "Integration")]
public sealed class TaskQueueIntegrationTests
{
    [Fact]
    public async Task Submit_BeforeAnyWorker_TaskWaitsInDurableQuorumQueueAcrossMasterRestart()
    {
        await using var cluster = await Cluster.StartAsync(workers: 0);
        const string Pool = "idle";
        var queue = QueueNames.Tasks(Pool);
        var job = await SubmitEchoAsync(cluster, Pool, "waited");

        Assert.Equal(TaskState.Queued, job.State);
        Assert.Equal(1u, await RabbitMqBroker.MessageCountAsync(cluster.BrokerUrl, queue));
        await AssertQuorumAsync(cluster.BrokerUrl, queue);

        cluster.Master!.Signal(9);
        Assert.True(await cluster.Master.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        await cluster.StartMasterAsync();
        Assert.Equal(1u, await RabbitMqBroker.MessageCountAsync(cluster.BrokerUrl, queue));

        await AssertAWorkerStartedNowRunsItAsync(cluster, "late-worker", Pool, job, "waited\n");
    }

    [Fact]
    public async Task Submit_OverMaxConcurrentJobs_ResourceExhausted()
    {
        await using var cluster = await Cluster.StartAsync(workers: 0, new Dictionary<string, string> { ["MAX_CONCURRENT_JOBS"] = "1" });

        var first = await cluster.DistctlAsync("run", "--", "true");
        var second = await cluster.DistctlAsync("run", "--", "true");

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(second.ExitCode == 125, second.ToString());
        Assert.Contains("MAX_CONCURRENT_JOBS", second.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Worker_TaskSentAsTheMessageAloneInJson_RunsIt()
    {
        // Programs write MassTransit's envelope and read it or the message alone (BusExtensions.UseMessageFormat), so
        // that a later version may write the smaller form to workers of this one.
        await using var cluster = await Cluster.StartAsync(workers: 0);
        const string Pool = "format";
        var queue = QueueNames.Tasks(Pool);
        var job = await SubmitEchoAsync(cluster, Pool, "plain");

        await using (var connection = await RabbitMqBroker.ConnectAsync(cluster.BrokerUrl))
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            var sent = await channel.BasicGetAsync(queue, autoAck: false);
            Assert.NotNull(sent);
            Assert.Equal("application/vnd.masstransit+json", sent.BasicProperties.ContentType);
            using var envelope = System.Text.Json.JsonDocument.Parse(sent.Body);
            var message = envelope.RootElement.GetProperty("message");
            Assert.Equal(job.Id, message.GetProperty("jobId").GetString());

            // The same task as the message alone, its type in a header, in place of the one the master sent.
            var plain = new BasicProperties
            {
                ContentType = "application/json",
                Persistent = true,
                Headers = new Dictionary<string, object?> { ["MT-MessageType"] = $"urn:message:{typeof(ExecuteTask).Namespace}:{nameof(ExecuteTask)}" },
            };
            await channel.BasicPublishAsync("", queue, mandatory: true, plain, System.Text.Encoding.UTF8.GetBytes(message.GetRawText()));
            await channel.BasicAckAsync(sent.DeliveryTag, multiple: false);
        }

        await AssertAWorkerStartedNowRunsItAsync(cluster, "reader", Pool, job, "plain\n");
    }

    /// <summary>A job of one task, echo <paramref name="word"/>, for a pool that has no worker yet.</summary>
    private static async Task<Job> SubmitEchoAsync(Cluster cluster, string pool, string word)
    {
        var spec = new JobSpec { Pool = pool };
        spec.Tasks.Add(new TaskSpec { Command = new CommandSpec { Program = "echo", Args = { word } } });
        return (await cluster.Jobs.SubmitJobAsync(new SubmitJobRequest { Spec = spec })).Job;
    }

    /// <summary>The pool's first worker starts, and the job waiting for it succeeds with <paramref name="stdout"/>.</summary>
    private static async Task AssertAWorkerStartedNowRunsItAsync(Cluster cluster, string worker, string pool, Job job, string stdout)
    {
        cluster.StartWorker(worker, pool);
        var done = await cluster.WaitForJobAsync(job.Id, TimeSpan.FromSeconds(60));
        Assert.Equal(TaskState.Succeeded, done.State);
        Assert.Equal(stdout, (await cluster.OutputAsync(job.Id))[0].Stdout);
    }

    private static async Task AssertQuorumAsync(Uri url, string queue)
    {
        await using var connection = await RabbitMqBroker.ConnectAsync(url);
        await using var channel = await connection.CreateChannelAsync();

        // Declaring it with the same arguments but as a classic queue must fail on x-queue-type alone.
        var arguments = QueueTopology.TaskQueueArguments(deliveryLimit: 5);
        arguments["x-queue-type"] = "classic";
        var error = await Assert.ThrowsAsync<OperationInterruptedException>(() =>
            channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments: arguments));
        Assert.Contains("x-queue-type", error.Message, StringComparison.Ordinal);
    }
}
