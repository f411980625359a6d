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
    public static string SiloDll
    {
        get
        {
            string configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
            return Path.Combine(Root, "src", "BundleCluster.Silo", "bin", configuration, "net10.0", "bundle-silo.dll");
        }
    }
}
