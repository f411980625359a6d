using k8s;
using k8s.Models;

namespace BundleCluster.Deploy.Tests;

// The KEDA objects k8s/ uses (keda.sh/v1alpha1), as far as our manifests use them, so that the strict load refuses
// a misspelled or misplaced field in them as it does in the built-in kinds. A field KEDA has and we never use is
// missing here on purpose: using it fails the load until it is added, with its KEDA documentation at hand.

[KubernetesEntity(Group = "keda.sh", ApiVersion = "v1alpha1", Kind = "ScaledObject", PluralName = "scaledobjects")]
public sealed class ScaledObject : IKubernetesObject<V1ObjectMeta>
{
    public string ApiVersion { get; set; } = "";

    public string Kind { get; set; } = "";

    public V1ObjectMeta Metadata { get; set; } = new();

    public ScaledObjectSpec Spec { get; set; } = new();
}

public sealed class ScaledObjectSpec
{
    public V2CrossVersionObjectReference ScaleTargetRef { get; set; } = new();

    public int? MinReplicaCount { get; set; }

    public int? MaxReplicaCount { get; set; }

    public int? PollingInterval { get; set; }

    public int? CooldownPeriod { get; set; }

    public ScaledObjectAdvanced? Advanced { get; set; }

    public List<ScaleTrigger> Triggers { get; set; } = [];
}

public sealed class ScaledObjectAdvanced
{
    public HorizontalPodAutoscalerConfig? HorizontalPodAutoscalerConfig { get; set; }
}

public sealed class HorizontalPodAutoscalerConfig
{
    public V2HorizontalPodAutoscalerBehavior? Behavior { get; set; }
}

public sealed class ScaleTrigger
{
    public string Type { get; set; } = "";

    public string? MetricType { get; set; }

    public Dictionary<string, string> Metadata { get; set; } = [];

    public TriggerAuthenticationRef? AuthenticationRef { get; set; }
}

public sealed class TriggerAuthenticationRef
{
    public string Name { get; set; } = "";
}

[KubernetesEntity(Group = "keda.sh", ApiVersion = "v1alpha1", Kind = "TriggerAuthentication", PluralName = "triggerauthentications")]
public sealed class TriggerAuthentication : IKubernetesObject<V1ObjectMeta>
{
    public string ApiVersion { get; set; } = "";

    public string Kind { get; set; } = "";

    public V1ObjectMeta Metadata { get; set; } = new();

    public TriggerAuthenticationSpec Spec { get; set; } = new();
}

public sealed class TriggerAuthenticationSpec
{
    public List<SecretTargetRef> SecretTargetRef { get; set; } = [];
}

public sealed class SecretTargetRef
{
    public string Parameter { get; set; } = "";

    public string Name { get; set; } = "";

    public string Key { get; set; } = "";
}
