using DistributedExecutor.Master;

return await MasterHost.RunAsync(args, embedded: null);
