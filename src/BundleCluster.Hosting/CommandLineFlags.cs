namespace BundleCluster.Hosting;

/// <summary>Command-line conveniences shared by bundle-silo and bundle-api.</summary>
public static class CommandLineFlags
{
    /// <summary>
    /// Lets an on/off flag stand alone (<c>--dashboard</c>): .NET's command-line configuration wants a value after
    /// every flag and would otherwise take the next flag as it. "--flag true|false" and "--flag=value" pass unchanged.
    /// </summary>
    public static string[] WithSwitches(string[] args, params string[] switches)
    {
        var result = new List<string>(args.Length);
        for (int i = 0; i < args.Length; i++)
        {
            bool standsAlone = i + 1 >= args.Length || args[i + 1].StartsWith('-')
                               || !bool.TryParse(args[i + 1], out _);
            result.Add(switches.Contains(args[i], StringComparer.Ordinal) && standsAlone ? args[i] + "=true" : args[i]);
        }

        return [.. result];
    }
}
