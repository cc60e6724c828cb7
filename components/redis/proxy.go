package redis

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
)

// HAProxyImage is the official HAProxy image, pinned: HAProxy 3.2 LTS (Docker official image,
// Alpine variant). It runs as the image's user haproxy, uid 99.
const HAProxyImage = "docker.io/library/haproxy:3.2.24-alpine"

const (
	// proxyName names the HAProxy Deployment and its objects.
	proxyName = "redis-proxy"
	// proxyReplicas is how many HAProxy pods run (the autoscaler's floor).
	proxyReplicas = 2
	// healthPort serves HAProxy's own health check (/healthz) to the kubelet.
	healthPort = 8404
	haproxyUID = 99
)

// proxyConfig is what the HAProxy configuration depends on: the cluster's values, or a test's on
// loopback.
type proxyConfig struct {
	// Listen is the clients' address, e.g. ":6379".
	Listen string
	// Health is the address of the /healthz endpoint, e.g. ":8404".
	Health string
	// Servers are the host:port of every Redis pod.
	Servers []string
	// Resolvers resolves server names at run time with the name servers of /etc/resolv.conf, and
	// starts before they resolve: pods come and go and change addresses.
	Resolvers bool
	// StartDown keeps a server out of rotation from HAProxy's start (or its return from DNS
	// maintenance) until its first check passes; without it HAProxy counts every server up
	// until its first check fails, and may send clients to a replica for up to a second.
	// HAProxy 3.1's init-state: the image's 3.2 has it, Debian 12's 2.6 does not.
	StartDown bool
}

// clusterProxyConfig is the HAProxy configuration in the cluster: every pod by its DNS name.
func clusterProxyConfig(args Args) proxyConfig {
	servers := make([]string, args.Replicas)
	for i := range servers {
		servers[i] = fmt.Sprintf("%s:%d", podHost(args.Namespace, i), Port)
	}
	return proxyConfig{Listen: fmt.Sprintf(":%d", Port), Health: fmt.Sprintf(":%d", healthPort), Servers: servers, Resolvers: true, StartDown: true}
}

// haproxyConfig renders HAProxy's configuration: clients' connections go to the one Redis whose
// health check authenticates (the password from $REDIS_PASSWORD, expanded by HAProxy) and
// answers INFO replication with role:master. When that pod fails its check, its connections are
// cut, so clients reconnect and reach the new master once Sentinel has promoted one.
func haproxyConfig(c proxyConfig) string {
	var b strings.Builder
	b.WriteString(`global
  log stdout format raw local0 notice
  maxconn 2048

defaults
  log global
  mode tcp
  timeout connect 3s
  timeout client 1h
  timeout server 1h
  timeout check 2s
`)
	server := "check inter 1s fall 2 rise 2 on-marked-down shutdown-sessions"
	if c.StartDown {
		server += " init-state down"
	}
	if c.Resolvers {
		b.WriteString(`
resolvers cluster
  parse-resolv-conf
  resolve_retries 3
  timeout resolve 1s
  timeout retry 1s
  hold valid 5s
  hold other 5s
  hold refused 5s
  hold nx 5s
  hold timeout 5s
  hold obsolete 5s
`)
		server += " resolvers cluster resolve-prefer ipv4 init-addr none"
	}
	fmt.Fprintf(&b, `
frontend health
  mode http
  bind %s
  monitor-uri /healthz

frontend redis
  bind %s
  default_backend redis

backend redis
  option tcp-check
  tcp-check connect
  tcp-check send "AUTH ${REDIS_PASSWORD}\r\n"
  tcp-check expect string +OK
  tcp-check send "INFO replication\r\n"
  tcp-check expect string role:master
  tcp-check send "QUIT\r\n"
  tcp-check expect string +OK
  default-server %s
`, c.Health, c.Listen, server)
	for i, s := range c.Servers {
		fmt.Fprintf(&b, "  server redis-%d %s\n", i, s)
	}
	return b.String()
}

// spreadApart prefers to place the pods the selector matches in different zones, then on
// different nodes, so one zone's or node's loss leaves the others.
func spreadApart(selector pulumi.StringMap) *corev1.AffinityArgs {
	term := func(weight int, key string) *corev1.WeightedPodAffinityTermArgs {
		return &corev1.WeightedPodAffinityTermArgs{
			Weight: pulumi.Int(weight),
			PodAffinityTerm: &corev1.PodAffinityTermArgs{
				TopologyKey:   pulumi.String(key),
				LabelSelector: &metav1.LabelSelectorArgs{MatchLabels: selector},
			},
		}
	}
	return &corev1.AffinityArgs{PodAntiAffinity: &corev1.PodAntiAffinityArgs{
		PreferredDuringSchedulingIgnoredDuringExecution: corev1.WeightedPodAffinityTermArray{
			term(100, "topology.kubernetes.io/zone"),
			term(50, "kubernetes.io/hostname"),
		},
	}}
}

// newProxy runs HAProxy in front of the Redis pods: the stable endpoint that follows the master.
// It returns the selector of its pods, which the redis Service selects.
func newProxy(ctx *pulumi.Context, name string, args Args, labels pulumi.StringMap, passwordEnv *corev1.EnvVarArgs, r *Redis, after ...pulumi.Resource) (pulumi.StringMap, error) {
	ns := pulumi.String(args.Namespace)
	selector := pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(proxyName), "app.kubernetes.io/instance": pulumi.String(name)}
	l := pulumi.StringMap{}
	for k, v := range labels {
		l[k] = v
	}
	for k, v := range selector {
		l[k] = v
	}
	cfg := haproxyConfig(clusterProxyConfig(args))
	sum := sha256.Sum256([]byte(cfg))
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(proxyName), Namespace: ns, Labels: l}
	cm, err := corev1.NewConfigMap(ctx, name+"-proxy", &corev1.ConfigMapArgs{
		Metadata: meta,
		Data:     pulumi.StringMap{"haproxy.cfg": pulumi.String(cfg)},
	}, r.child())
	if err != nil {
		return nil, fmt.Errorf("redis proxy config: %w", err)
	}
	probe := &corev1.ProbeArgs{
		HttpGet:        &corev1.HTTPGetActionArgs{Path: pulumi.String("/healthz"), Port: pulumi.String("health")},
		PeriodSeconds:  pulumi.Int(10),
		TimeoutSeconds: pulumi.Int(2),
	}
	if _, err := appsv1.NewDeployment(ctx, name+"-proxy", &appsv1.DeploymentArgs{
		Metadata: meta,
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(proxyReplicas),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: selector},
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type:          pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{MaxUnavailable: pulumi.Int(0), MaxSurge: pulumi.Int(1)},
			},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels: l,
					// A changed configuration rolls the pods.
					Annotations: pulumi.StringMap{"checksum/config": pulumi.String(hex.EncodeToString(sum[:]))},
				},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					Affinity:                     spreadApart(selector),
					SecurityContext: &corev1.PodSecurityContextArgs{
						RunAsNonRoot:   pulumi.Bool(true),
						RunAsUser:      pulumi.Int(haproxyUID),
						RunAsGroup:     pulumi.Int(haproxyUID),
						SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
					},
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:    pulumi.String("haproxy"),
						Image:   pulumi.String(mirrored(args.ImageMirror, HAProxyImage)),
						Command: pulumi.ToStringArray([]string{"haproxy", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"}),
						Env:     corev1.EnvVarArray{passwordEnv},
						Ports: corev1.ContainerPortArray{
							&corev1.ContainerPortArgs{Name: pulumi.String("redis"), ContainerPort: pulumi.Int(Port)},
							&corev1.ContainerPortArgs{Name: pulumi.String("health"), ContainerPort: pulumi.Int(healthPort)},
						},
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("50m"), "memory": pulumi.String("128Mi")},
							Limits:   pulumi.StringMap{"cpu": pulumi.String("500m"), "memory": pulumi.String("128Mi")},
						},
						ReadinessProbe: probe,
						LivenessProbe:  probe,
						SecurityContext: &corev1.SecurityContextArgs{
							AllowPrivilegeEscalation: pulumi.Bool(false),
							ReadOnlyRootFilesystem:   pulumi.Bool(true),
							RunAsNonRoot:             pulumi.Bool(true),
							Privileged:               pulumi.Bool(false),
							Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.ToStringArray([]string{"ALL"})},
						},
						VolumeMounts: corev1.VolumeMountArray{&corev1.VolumeMountArgs{
							Name: pulumi.String("config"), MountPath: pulumi.String("/usr/local/etc/haproxy"), ReadOnly: pulumi.Bool(true),
						}},
					}},
					Volumes: corev1.VolumeArray{&corev1.VolumeArgs{
						Name:      pulumi.String("config"),
						ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: pulumi.String(proxyName)},
					}},
				},
			},
		},
	}, r.child(), chart.DependsOn(append([]pulumi.Resource{cm}, after...))); err != nil {
		return nil, fmt.Errorf("redis proxy: %w", err)
	}
	// One pod may be evicted at a time: drains proceed and the other pod keeps serving.
	if _, err := policyv1.NewPodDisruptionBudget(ctx, name+"-proxy", &policyv1.PodDisruptionBudgetArgs{
		Metadata: meta,
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MinAvailable: pulumi.Int(1),
			Selector:     &metav1.LabelSelectorArgs{MatchLabels: selector},
		},
	}, r.child()); err != nil {
		return nil, fmt.Errorf("redis proxy disruption budget: %w", err)
	}
	// HAProxy's work grows with the clients' traffic: more pods share it.
	if _, err := autoscalingv2.NewHorizontalPodAutoscaler(ctx, name+"-proxy", &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: meta,
		Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
			ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
				ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String("Deployment"), Name: pulumi.String(proxyName),
			},
			MinReplicas: pulumi.Int(proxyReplicas),
			MaxReplicas: pulumi.Int(2 * proxyReplicas),
			Metrics: autoscalingv2.MetricSpecArray{&autoscalingv2.MetricSpecArgs{
				Type: pulumi.String("Resource"),
				Resource: &autoscalingv2.ResourceMetricSourceArgs{
					Name:   pulumi.String("cpu"),
					Target: &autoscalingv2.MetricTargetArgs{Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(70)},
				},
			}},
		},
	}, r.child()); err != nil {
		return nil, fmt.Errorf("redis proxy autoscaler: %w", err)
	}
	return selector, nil
}
