using BundleCluster.Cli;
using BundleCluster.Hosting;

StartupJitProfile.Start("bundlectl", args.FirstOrDefault());
using var signals = new InterruptSignals(Console.Error);
return await BundleCtl.RunAsync(args, Console.Out, Console.Error, signals.Token);
