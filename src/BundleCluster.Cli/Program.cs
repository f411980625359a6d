using BundleCluster.Cli;

using var signals = new InterruptSignals(Console.Error);
return await BundleCtl.RunAsync(args, Console.Out, Console.Error, signals.Token);
