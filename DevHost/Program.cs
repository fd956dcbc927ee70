using DistributedExecutor.DevHost;
using DistributedExecutor.Master;

return await MasterHost.RunAsync(args, new EmbeddedWorkers());
