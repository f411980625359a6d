using System.Text.RegularExpressions;
using BundleCluster.Hosting;
using BundleCluster.TestSupport;
using k8s.Models;

namespace BundleCluster.Deploy.Tests;

/// <summary>
/// Every k8s/ overlay renders with kubectl kustomize, loads strictly (unknown fields fail), validates against the
/// Kubernetes and KEDA schemas (npm kubernetes-models), and means what the programs need: flags they have, probes on
/// the ports and paths they serve, grace periods longer than their shutdown budget, selectors that select, names that
/// resolve. No control plane runs here (docs/operations.md says what was not run).
/// </summary>
public sealed class KubernetesManifestTests
{
    public static TheoryData<string> Overlays => new(RenderedOverlay.Names);

    private static readonly Lazy<Dictionary<string, RenderedOverlay>> Rendered =
        new(() => RenderedOverlay.Names.ToDictionary(n => n, RenderedOverlay.Render));

    private static RenderedOverlay Overlay(string name) => Rendered.Value[name];

    /// <summary>Secrets an operator creates (docs/operations.md names each); every other referenced one must be rendered.</summary>
    private static readonly string[] OperatorSecrets =
        ["bundle-identity-default", "bundle-api-jwt-key", "bundle-api-scale-token", "bundle-s3-credentials", "bundle-redis", "bundle-api-tls"];

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_overlay_validates_against_the_Kubernetes_and_KEDA_schemas(string overlay)
    {
        string report = Commands.Run("bash", [Path.Combine(RepositoryPaths.Root, "tests", "k8s-schema", "validate.sh")], Overlay(overlay).Yaml);
        Assert.DoesNotContain("invalid", report, StringComparison.Ordinal);
        Assert.Equal(Overlay(overlay).Objects.Count, report.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_schema_check_catches_a_wrong_type()
    {
        string broken = Overlay("prod").Yaml.Replace("minReplicaCount: 1", "minReplicaCount: one", StringComparison.Ordinal);
        Assert.NotEqual(Overlay("prod").Yaml, broken);
        var failure = Assert.Throws<Xunit.Sdk.XunitException>(() =>
            Commands.Run("bash", [Path.Combine(RepositoryPaths.Root, "tests", "k8s-schema", "validate.sh")], broken));
        Assert.Contains("invalid ScaledObject/bundle-silo", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_strict_load_refuses_a_misspelled_field()
    {
        string misspelled = Overlay("prod").Yaml.Replace("terminationGracePeriodSeconds:", "terminationGracePeriodSecond:", StringComparison.Ordinal);
        Assert.ThrowsAny<Exception>(() => k8s.KubernetesYaml.LoadAllFromString(misspelled, strict: true));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_autoscaler_targets_the_silo_Deployment_and_scales_in_one_pod_at_a_time(string overlay)
    {
        RenderedOverlay o = Overlay(overlay);
        V1Deployment silos = o.Deployment("bundle-silo");
        ScaledObject? scaled = o.All<ScaledObject>().SingleOrDefault();
        V2HorizontalPodAutoscaler? hpa = o.All<V2HorizontalPodAutoscaler>().SingleOrDefault();
        Assert.True(scaled is null != (hpa is null), "exactly one autoscaler (KEDA or a plain HPA) per overlay");
        V2CrossVersionObjectReference target = scaled?.Spec.ScaleTargetRef ?? hpa!.Spec.ScaleTargetRef;
        Assert.Equal(("apps/v1", "Deployment", silos.Metadata.Name), (target.ApiVersion, target.Kind, target.Name));
        V2HorizontalPodAutoscalerBehavior behavior = scaled?.Spec.Advanced?.HorizontalPodAutoscalerConfig?.Behavior ?? hpa!.Spec.Behavior;
        V2HPAScalingPolicy scaleIn = Assert.Single(behavior.ScaleDown.Policies);
        Assert.Equal(("Pods", 1), (scaleIn.Type, scaleIn.Value));
        Assert.True(behavior.ScaleDown.StabilizationWindowSeconds >= 300, "scale-in waits out a burst's gaps");
        int min = scaled?.Spec.MinReplicaCount ?? hpa!.Spec.MinReplicas ?? 1;
        Assert.Equal(overlay == "scale-to-zero" ? 0 : 1, min);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_backlog_trigger_reads_bundle_apis_scale_endpoint_in_its_own_namespace_with_the_documented_target(string overlay)
    {
        RenderedOverlay o = Overlay(overlay);
        if (o.All<ScaledObject>().SingleOrDefault() is not { } scaled)
        {
            V2MetricSpec external = Assert.Single(o.All<V2HorizontalPodAutoscaler>().Single().Spec.Metrics, m => m.Type == "External");
            Assert.Equal(("bundlecluster_slices_pending", "256"), (external.External.Metric.Name, external.External.Target.AverageValue.ToString()));
            return;
        }

        ScaleTrigger trigger = Assert.Single(scaled.Spec.Triggers);
        if (trigger.Type == "prometheus")
        {
            Assert.Equal(("sum(bundlecluster_slices_pending)", "256"), (trigger.Metadata["query"], trigger.Metadata["threshold"]));
            Assert.Empty(o.All<TriggerAuthentication>());
            return;
        }

        Assert.Equal("metrics-api", trigger.Type);
        V1Service api = o.All<V1Service>().Single(s => s.Metadata.Name == "bundle-api");
        Assert.Equal($"http://bundle-api.{api.Metadata.NamespaceProperty}.svc.cluster.local/v1/scale", trigger.Metadata["url"]);
        Assert.Equal(80, api.Spec.Ports.Single().Port); // the URL names no port
        Assert.Equal(("slicesPending", "256", "AverageValue"), (trigger.Metadata["valueLocation"], trigger.Metadata["targetValue"], trigger.MetricType));
        TriggerAuthentication auth = o.All<TriggerAuthentication>().Single(a => a.Metadata.Name == trigger.AuthenticationRef!.Name);
        Assert.Equal("bearer", trigger.Metadata["authMode"]);
        Assert.Equal("token", Assert.Single(auth.Spec.SecretTargetRef).Parameter);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Silo_args_are_real_bundle_silo_flags_and_the_probes_match_its_ports_paths_and_shutdown_budget(string overlay)
    {
        V1PodSpec pod = Overlay(overlay).Deployment("bundle-silo").Spec.Template.Spec;
        V1Container silo = Assert.Single(pod.Containers);
        Assert.Equal("bundle-silo", silo.Args[0]);
        Dictionary<string, string> flags = Flags(silo.Args.Skip(1).ToList(),
            [.. Silo.SiloArguments.SwitchMappings.Keys, .. Silo.SiloArguments.RepeatableFlags.Keys]);
        Assert.Equal("$(POD_IP)", flags["--advertise"]);
        Assert.Equal("status.podIP", silo.Env.Single(e => e.Name == "POD_IP").ValueFrom.FieldRef.FieldPath);
        AssertPort(silo, "silo", flags["--silo-port"]);
        AssertPort(silo, "gateway", flags["--gateway-port"]);
        AssertPort(silo, "http", flags["--http-port"]);
        Assert.Equal((HealthEndpoints.StartupPath, "http"), (silo.StartupProbe.HttpGet.Path, silo.StartupProbe.HttpGet.Port.Value));
        Assert.Equal((HealthEndpoints.ReadyPath, "http"), (silo.ReadinessProbe.HttpGet.Path, silo.ReadinessProbe.HttpGet.Port.Value));
        Assert.Equal((HealthEndpoints.LivePath, "http"), (silo.LivenessProbe.HttpGet.Path, silo.LivenessProbe.HttpGet.Port.Value));
        int shutdown = int.Parse(flags["--shutdown-timeout"], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(pod.TerminationGracePeriodSeconds > shutdown + 5,
            $"terminationGracePeriodSeconds {pod.TerminationGracePeriodSeconds} must outlast --shutdown-timeout {shutdown}");
        Assert.NotNull(pod.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution.Single().PodAffinityTerm.TopologyKey);
        Assert.Contains(Overlay(overlay).All<V1PodDisruptionBudget>(), b => b.Metadata.Name == "bundle-silo" && b.Spec.MaxUnavailable.Value == "1");
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Api_args_are_real_bundle_api_flags_and_the_probes_match_its_port_and_paths(string overlay)
    {
        V1Container api = Assert.Single(Overlay(overlay).Deployment("bundle-api").Spec.Template.Spec.Containers);
        Assert.Equal("bundle-api", api.Args[0]);
        Dictionary<string, string> flags = Flags(api.Args.Skip(1).ToList(), [.. Api.ApiArguments.SwitchMappings.Keys]);
        Match url = Regex.Match(flags["--urls"], @"^http://\$\(POD_IP\):(\d+)$");
        Assert.True(url.Success, $"--urls {flags["--urls"]} should listen on the pod IP");
        AssertPort(api, "http", url.Groups[1].Value);
        Assert.Equal((HealthEndpoints.ReadyPath, "http"), (api.ReadinessProbe.HttpGet.Path, api.ReadinessProbe.HttpGet.Port.Value));
        Assert.Equal((HealthEndpoints.LivePath, "http"), (api.LivenessProbe.HttpGet.Path, api.LivenessProbe.HttpGet.Port.Value));
        Assert.True(flags.ContainsKey("--jwt-key-file") || flags.ContainsKey("--jwt-authority"));
        Assert.True(flags.ContainsKey("--tenants"));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Every_container_has_requests_a_memory_limit_runs_as_non_root_and_its_image_is_pinned(string overlay)
    {
        foreach (V1Deployment deployment in Overlay(overlay).All<V1Deployment>())
        {
            V1PodSpec pod = deployment.Spec.Template.Spec;
            foreach (V1Container container in pod.Containers)
            {
                string where = $"{deployment.Metadata.Name}/{container.Name}";
                Assert.True(container.Resources?.Requests?.ContainsKey("cpu") == true && container.Resources.Requests.ContainsKey("memory"), $"{where} has no cpu and memory requests");
                Assert.True(container.Resources.Limits?.ContainsKey("memory") == true, $"{where} has no memory limit");
                Assert.True((container.SecurityContext?.RunAsNonRoot ?? pod.SecurityContext?.RunAsNonRoot) == true, $"{where} may run as root");
                Assert.NotEqual(0, container.SecurityContext?.RunAsUser ?? pod.SecurityContext?.RunAsUser ?? 0);
                Assert.False(container.SecurityContext?.AllowPrivilegeEscalation ?? true, $"{where} allows privilege escalation");
                Assert.Contains("ALL", container.SecurityContext!.Capabilities.Drop);
                Assert.Matches(@"^[a-z0-9./-]+(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$", container.Image);
                Assert.True(Regex.IsMatch(container.Image, @"(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$") && !container.Image.EndsWith(":latest", StringComparison.Ordinal),
                    $"{where} image {container.Image} is not pinned to a version");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Selectors_select_and_every_referenced_ConfigMap_and_Secret_is_rendered_or_documented(string overlay)
    {
        RenderedOverlay o = Overlay(overlay);
        List<IDictionary<string, string>> podLabels = o.All<V1Deployment>().Select(d => d.Spec.Template.Metadata.Labels).ToList();
        bool Selects(IDictionary<string, string> selector) => podLabels.Any(l => selector.All(kv => l.TryGetValue(kv.Key, out string? v) && v == kv.Value));
        foreach (V1Deployment d in o.All<V1Deployment>())
        {
            Assert.All(d.Spec.Selector.MatchLabels, kv => Assert.Equal(kv.Value, d.Spec.Template.Metadata.Labels[kv.Key]));
        }

        Assert.All(o.All<V1Service>(), s => Assert.True(Selects(s.Spec.Selector), $"Service {s.Metadata.Name} selects no pod"));
        Assert.All(o.All<V1PodDisruptionBudget>(), b => Assert.True(Selects(b.Spec.Selector.MatchLabels), $"PDB {b.Metadata.Name} selects no pod"));
        Assert.All(o.All<V1NetworkPolicy>().Where(p => p.Spec.PodSelector.MatchLabels is { Count: > 0 }),
            p => Assert.True(Selects(p.Spec.PodSelector.MatchLabels), $"NetworkPolicy {p.Metadata.Name} selects no pod"));

        var configMaps = o.All<V1ConfigMap>().Select(c => c.Metadata.Name).ToHashSet();
        var secrets = o.All<V1Secret>().Select(s => s.Metadata.Name).Concat(OperatorSecrets).ToHashSet();
        string operations = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "docs", "operations.md"));
        Assert.All(OperatorSecrets, s => Assert.Matches($@"create secret (generic|tls) {Regex.Escape(s)}\b", operations));
        foreach (V1PodSpec pod in o.All<V1Deployment>().Select(d => d.Spec.Template.Spec))
        {
            foreach (V1Volume volume in pod.Volumes ?? [])
            {
                Assert.True(volume.ConfigMap is null || configMaps.Contains(volume.ConfigMap.Name), $"ConfigMap {volume.ConfigMap?.Name} is neither rendered nor known");
                Assert.True(volume.Secret is null || secrets.Contains(volume.Secret.SecretName), $"Secret {volume.Secret?.SecretName} is neither rendered nor documented");
            }

            foreach (V1Container container in pod.Containers)
            {
                foreach (V1EnvVar env in container.Env ?? [])
                {
                    Assert.True(env.ValueFrom?.ConfigMapKeyRef is not { } c || configMaps.Contains(c.Name), $"ConfigMap {env.ValueFrom?.ConfigMapKeyRef?.Name} is not rendered");
                    Assert.True(env.ValueFrom?.SecretKeyRef is not { } s || secrets.Contains(s.Name), $"Secret {env.ValueFrom?.SecretKeyRef?.Name} is not known");
                }

                Assert.All(container.EnvFrom ?? [], e => Assert.True(e.SecretRef is null || secrets.Contains(e.SecretRef.Name)));
                // Secrets and ConfigMaps are mounted read-only.
                foreach (V1VolumeMount mount in container.VolumeMounts ?? [])
                {
                    V1Volume volume = pod.Volumes!.Single(v => v.Name == mount.Name);
                    Assert.True(volume.EmptyDir is not null || mount.ReadOnlyProperty == true, $"{mount.Name} is mounted writable");
                }
            }
        }

        foreach (TriggerAuthentication auth in o.All<TriggerAuthentication>())
        {
            Assert.All(auth.Spec.SecretTargetRef, r => Assert.Contains(r.Name, secrets));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Service_account_tokens_stay_unmounted_and_the_network_policies_keep_silo_ports_private(string overlay)
    {
        RenderedOverlay o = Overlay(overlay);
        Assert.All(o.All<V1ServiceAccount>(), a => Assert.False(a.AutomountServiceAccountToken ?? true, $"{a.Metadata.Name} mounts a token"));
        Assert.All(o.All<V1Deployment>(), d => Assert.False(d.Spec.Template.Spec.AutomountServiceAccountToken ?? true, $"{d.Metadata.Name} mounts a token"));
        Assert.Contains(o.All<V1NetworkPolicy>(), p => p.Spec.PodSelector.MatchLabels is null or { Count: 0 } && p.Spec.Ingress is null);
        V1NetworkPolicy silo = o.All<V1NetworkPolicy>().Single(p => p.Metadata.Name == "bundle-silo");
        Assert.Equal(["bundle-silo"], FromFor(silo, 11111));
        Assert.Equal(["bundle-api"], FromFor(silo, 30000));
        if (o.All<V1NetworkPolicy>().SingleOrDefault(p => p.Metadata.Name == "redis") is { } redis)
        {
            Assert.Equal(["bundle-api", "bundle-silo"], FromFor(redis, 6379).Order());
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task The_nightly_CronJob_runs_once_a_night_with_a_projected_bundle_api_token_and_a_plan_bundlectl_reads(string overlay)
    {
        RenderedOverlay o = Overlay(overlay);
        V1CronJob cron = o.All<V1CronJob>().Single(c => c.Metadata.Name == "bundle-nightly");
        Assert.Equal("Forbid", cron.Spec.ConcurrencyPolicy);
        Assert.True(TimeZoneInfo.TryFindSystemTimeZoneById(cron.Spec.TimeZone ?? "", out _), $"time zone '{cron.Spec.TimeZone}' is not an IANA zone");
        Assert.InRange(cron.Spec.StartingDeadlineSeconds ?? 0, 60, 86400);
        V1PodSpec pod = cron.Spec.JobTemplate.Spec.Template.Spec;
        Assert.False(pod.AutomountServiceAccountToken ?? true, "the nightly pod mounts a Kubernetes API token");
        Assert.Contains(o.All<V1ServiceAccount>(), a => a.Metadata.Name == pod.ServiceAccountName);

        // The token: projected for bundle-api's audience, and the file --token-file names.
        V1Container nightly = Assert.Single(pod.Containers);
        Assert.Equal(["bundlectl", "nightly"], nightly.Args.Take(2));
        Dictionary<string, string> flags = Flags(nightly.Args.Skip(2).ToList(), ["--plan", "--service", "--token-file"]);
        V1Volume tokenVolume = pod.Volumes.Single(v => v.Projected is not null);
        V1ServiceAccountTokenProjection projection = Assert.Single(tokenVolume.Projected.Sources).ServiceAccountToken;
        V1Container api = Assert.Single(o.Deployment("bundle-api").Spec.Template.Spec.Containers);
        Assert.Equal(Flags(api.Args.Skip(1).ToList(), [.. Api.ApiArguments.SwitchMappings.Keys])["--jwt-audience"], projection.Audience);
        Assert.Equal($"{nightly.VolumeMounts.Single(m => m.Name == tokenVolume.Name).MountPath}/{projection.Path}", flags["--token-file"]);

        // bundle-api is where --service points, and the nightly service account is a tenant's subject there.
        V1Service service = o.All<V1Service>().Single(s => s.Metadata.Name == "bundle-api");
        Assert.Equal($"http://{service.Metadata.Name}", flags["--service"]);
        Assert.Contains(service.Spec.Ports, p => p.Port == 80);
        string ns = cron.Metadata.NamespaceProperty ?? "default";
        string tenants = o.All<V1ConfigMap>().Single(c => c.Metadata.Name.StartsWith("bundle-api-tenants", StringComparison.Ordinal)).Data["tenants.json"];
        Assert.Contains($"system:serviceaccount:{ns}:{pod.ServiceAccountName}", tenants);

        // The plan is the rendered ConfigMap's, and bundlectl itself reads it: with no service to reach, it gets as
        // far as calling bundle-api (a plan or flag it did not accept would fail before that, saying so).
        V1Volume planVolume = pod.Volumes.Single(v => v.ConfigMap is not null);
        string mount = nightly.VolumeMounts.Single(m => m.Name == planVolume.Name).MountPath;
        V1ConfigMap planMap = o.All<V1ConfigMap>().Single(c => c.Metadata.Name == planVolume.ConfigMap.Name);
        string key = flags["--plan"][(mount.Length + 1)..];
        using var dir = new TempDirectory("nightly-plan");
        File.WriteAllText(dir.File("plan.json"), planMap.Data[key]);
        File.WriteAllText(dir.File("token"), "not-a-real-token");
        using BundleCtlProcess run = BundleCtlProcess.Start("nightly", "--plan", dir.File("plan.json"), "--service", "http://127.0.0.1:9",
            "--token-file", dir.File("token"));
        Assert.NotEqual(0, await run.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("bundle-api at http://127.0.0.1:9/ did not answer", run.StdErr);
    }

    [Fact]
    public void Prod_keeps_Redis_and_S3_outside_and_serves_bundle_api_over_TLS()
    {
        RenderedOverlay prod = Overlay("prod");
        Assert.DoesNotContain(prod.All<V1Deployment>(), d => d.Metadata.Name is "redis" or "s3");
        foreach (string name in new[] { "bundle-silo", "bundle-api" })
        {
            V1EnvVar redis = prod.Deployment(name).Spec.Template.Spec.Containers[0].Env.Single(e => e.Name == "REDIS_ADDRESS");
            Assert.Equal(("bundle-redis", "connection"), (redis.ValueFrom.SecretKeyRef.Name, redis.ValueFrom.SecretKeyRef.Key));
        }

        V1IngressTLS tls = Assert.Single(prod.All<V1Ingress>().Single().Spec.Tls);
        Assert.Equal("bundle-api-tls", tls.SecretName);
        Assert.Equal(prod.All<V1Ingress>().Single().Spec.Rules.Single().Host, Assert.Single(tls.Hosts));
        RenderedOverlay dev = Overlay("dev");
        Assert.Contains(dev.All<V1Deployment>(), d => d.Metadata.Name == "redis");
        Assert.Contains("http://s3:4566", dev.Deployment("bundle-silo").Spec.Template.Spec.Containers[0].Args);
    }

    /// <summary>The args after the program name as flag → value; every flag must be one the program reads.</summary>
    private static Dictionary<string, string> Flags(List<string> args, IReadOnlyCollection<string> known)
    {
        var flags = new Dictionary<string, string>();
        for (int i = 0; i < args.Count; i++)
        {
            Assert.True(known.Contains(args[i]), $"'{args[i]}' is not a flag of the program (known: {string.Join(' ', known)})");
            bool hasValue = i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            flags[args[i]] = hasValue ? args[++i] : "true";
        }

        return flags;
    }

    private static void AssertPort(V1Container container, string name, string flagValue) =>
        Assert.Equal(int.Parse(flagValue, System.Globalization.CultureInfo.InvariantCulture), container.Ports.Single(p => p.Name == name).ContainerPort);

    /// <summary>The app names of the pods a policy lets reach <paramref name="port"/> (a rule with no "from" would be everyone).</summary>
    private static List<string> FromFor(V1NetworkPolicy policy, int port) =>
        policy.Spec.Ingress.Where(rule => rule.Ports?.Any(p => p.Port.Value == port.ToString(System.Globalization.CultureInfo.InvariantCulture)) == true)
            .SelectMany(rule => rule.FromProperty?.Select(peer => peer.PodSelector.MatchLabels["app.kubernetes.io/name"]) ?? ["<anyone>"])
            .ToList();
}
