using BundleCluster.Cli;

return await BundleCtl.RunAsync(args, Console.Out, Console.Error);
