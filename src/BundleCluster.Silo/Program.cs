// bundle-silo: the clustered silo host. Clustering through Redis (the only way silos on several machines find each
// other) is the next piece of work; until then this host refuses to start rather than silently forming a one-silo
// cluster nobody can reach. On one machine, bundlectl runs an embedded silo by itself.
int redis = Array.IndexOf(args, "--redis");
if (redis < 0 || redis + 1 >= args.Length)
{
    Console.Error.WriteLine("bundle-silo: error: --redis HOST:PORT is required; silos cluster through Redis (for one machine, bundlectl runs an embedded silo)");
    return 1;
}

Console.Error.WriteLine("bundle-silo: error: Redis clustering is not available in this version yet; use bundlectl's embedded mode");
return 254;
