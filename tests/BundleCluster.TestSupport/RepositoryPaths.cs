namespace BundleCluster.TestSupport;

/// <summary>Finds the repository (the directory holding BundleCluster.sln) from a test's output directory.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "BundleCluster.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("BundleCluster.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The built bundle-silo.dll (the configuration the tests were built in).</summary>
    public static string SiloDll => BuiltProgram("BundleCluster.Silo", "bundle-silo.dll");

    /// <summary>The built bundle-api.dll.</summary>
    public static string ApiDll => BuiltProgram("BundleCluster.Api", "bundle-api.dll");

    /// <summary>The built bundlectl.dll, run from its own output folder (its own dependency set).</summary>
    public static string CliDll => BuiltProgram("BundleCluster.Cli", "bundlectl.dll");

    private static string BuiltProgram(string project, string dll)
    {
        string configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        return Path.Combine(Root, "src", project, "bin", configuration, "net10.0", dll);
    }
}
