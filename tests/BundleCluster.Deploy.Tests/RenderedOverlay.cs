using System.Reflection;
using BundleCluster.TestSupport;
using k8s;
using k8s.Models;

namespace BundleCluster.Deploy.Tests;

/// <summary>One k8s/ overlay as <c>kubectl kustomize</c> renders it, loaded strictly (an unknown field fails).</summary>
public sealed class RenderedOverlay
{
    public static readonly string[] Names = ["dev", "prod", "keda-prometheus", "scale-to-zero", "hpa"];

    private static readonly Dictionary<string, Type> TypeMap = BuildTypeMap();

    private RenderedOverlay(string name, string yaml, List<object> objects)
    {
        Name = name;
        Yaml = yaml;
        Objects = objects;
    }

    public string Name { get; }

    /// <summary>The rendered multi-document YAML.</summary>
    public string Yaml { get; }

    public List<object> Objects { get; }

    public IEnumerable<T> All<T>() => Objects.OfType<T>();

    public V1Deployment Deployment(string name) => All<V1Deployment>().Single(d => d.Metadata.Name == name);

    public string Namespace => Deployment("bundle-silo").Metadata.NamespaceProperty;

    public static string Directory(string name) => Path.Combine(RepositoryPaths.Root, "k8s", "overlays", name);

    public static RenderedOverlay Render(string name)
    {
        string yaml = Commands.Run("kubectl", ["kustomize", Directory(name)]);
        return new RenderedOverlay(name, yaml, KubernetesYaml.LoadAllFromString(yaml, TypeMap, strict: true).ToList());
    }

    /// <summary>The client's own models for every built-in kind ("apps/v1/Deployment", "v1/Service", …) plus KEDA's.</summary>
    private static Dictionary<string, Type> BuildTypeMap()
    {
        var map = new Dictionary<string, Type>();
        foreach (Type type in typeof(V1Pod).Assembly.GetTypes().Append(typeof(ScaledObject)).Append(typeof(TriggerAuthentication)))
        {
            if (type.GetCustomAttribute<KubernetesEntityAttribute>() is { Kind: not null } entity)
            {
                string apiVersion = string.IsNullOrEmpty(entity.Group) ? entity.ApiVersion : $"{entity.Group}/{entity.ApiVersion}";
                map[$"{apiVersion}/{entity.Kind}"] = type;
            }
        }

        return map;
    }
}
