using MassTransit;

namespace DistributedExecutor.Hosting.Bus;

/// <summary>The transport both master and worker use: RabbitMQ when a URL is given, else in-memory (embedded only).</summary>
internal static class BusExtensions
{
    public static void UseTransport(
        this IBusRegistrationConfigurator bus,
        Uri? rabbitMqUrl,
        string connectionName,
        Action<IBusRegistrationContext, IBusFactoryConfigurator> configureEndpoints)
    {
        if (rabbitMqUrl is null)
        {
            bus.UsingInMemory((context, cfg) =>
            {
                cfg.UseMessageFormat();
                configureEndpoints(context, cfg);
            });
            return;
        }

        bus.UsingRabbitMq((context, cfg) =>
        {
            cfg.ConfigureHost(rabbitMqUrl, connectionName);
            cfg.UseMessageFormat();
            configureEndpoints(context, cfg);
        });
    }

    /// <summary>
    /// How messages are read and written. Written in MassTransit's envelope (content type
    /// application/vnd.masstransit+json); read in it and also as the message alone (application/json, its type in the
    /// MT-MessageType header), which is about a quarter of the size: an ExecuteTask is 367 bytes alone, 1,344 in the
    /// envelope, whose addresses and sending host's description nothing here reads. Writing the smaller form must wait
    /// until every program on the broker reads it: a worker of the version before this one never ran a task sent that
    /// way, so a master upgraded before its workers would strand the tasks it sends them. So this version reads both,
    /// and a later one can write the smaller form (docs/architecture.md, "Message format").
    /// </summary>
    public static void UseMessageFormat(this IBusFactoryConfigurator cfg) =>
        cfg.AddRawJsonSerializer(RawSerializerOptions.AddTransportHeaders);

    /// <summary>The broker connection every bus of the system uses: confirmed publishes, heartbeats, a name operators see.</summary>
    public static void ConfigureHost(this IRabbitMqBusFactoryConfigurator cfg, Uri rabbitMqUrl, string connectionName)
    {
        var (host, username, password) = SplitCredentials(rabbitMqUrl);
        cfg.Host(host, h =>
        {
            h.Username(username);
            h.Password(password);
            h.PublisherConfirmation = true;
            h.Heartbeat(TimeSpan.FromSeconds(10));

            // Shown by rabbitmqctl and the management UI, so operators see which process a connection is.
            h.ConnectionName(connectionName);
        });
    }

    /// <summary>Takes user and password out of the URL so the address that gets logged carries no secret.</summary>
    public static (Uri Host, string Username, string Password) SplitCredentials(Uri url)
    {
        var username = "guest";
        var password = "guest";
        if (!string.IsNullOrEmpty(url.UserInfo))
        {
            var parts = url.UserInfo.Split(':', 2);
            username = Uri.UnescapeDataString(parts[0]);
            password = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : "";
        }

        var builder = new UriBuilder(url) { UserName = "", Password = "" };
        if (builder.Port < 0)
        {
            builder.Port = url.Scheme == "amqps" ? 5671 : 5672;
        }

        return (builder.Uri, username, password);
    }
}
