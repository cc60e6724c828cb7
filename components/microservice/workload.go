package microservice

import (
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Track labels tell the stable and the canary pods apart for the mesh's weighted routing.
const (
	trackLabel  = "groundwork.io/track"
	trackStable = "stable"
	trackCanary = "canary"
)

// nonRootUID is distroless's nonroot user, which the service images run as.
const nonRootUID = 65532

func (b *builder) workload() error {
	a := b.args
	saMeta := &metav1.ObjectMetaArgs{Name: pulumi.String(a.Name), Namespace: pulumi.String(a.Namespace), Labels: b.labels(nil)}
	if a.RoleARN != nil {
		saMeta.Annotations = pulumi.StringMap{"eks.amazonaws.com/role-arn": a.RoleARN}
	}
	if _, err := corev1.NewServiceAccount(b.ctx, b.name, &corev1.ServiceAccountArgs{
		Metadata: saMeta,
		// The services never call the Kubernetes API.
		AutomountServiceAccountToken: pulumi.Bool(false),
	}, b.opts...); err != nil {
		return err
	}
	if err := b.deployment(a.Name, trackStable, a.Image, a.Scale.Min); err != nil {
		return err
	}
	if a.Canary != nil {
		return b.deployment(a.Name+"-canary", trackCanary, a.Canary.Image, 1)
	}
	return nil
}

func (b *builder) deployment(name, track string, image pulumi.StringInput, replicas int) error {
	a := b.args
	podLabels := b.labels(map[string]string{trackLabel: track})
	env := corev1.EnvVarArray{}
	for _, k := range sortedKeys(a.Env) {
		env = append(env, &corev1.EnvVarArgs{Name: pulumi.String(k), Value: pulumi.String(a.Env[k])})
	}
	for _, e := range a.SecretEnv {
		env = append(env, &corev1.EnvVarArgs{Name: pulumi.String(e.Name), ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: e.Secret, Key: pulumi.String(e.Key)},
		}})
	}
	probe := func(path string, period, failures int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String("http")},
			PeriodSeconds:    pulumi.Int(period),
			FailureThreshold: pulumi.Int(failures),
			TimeoutSeconds:   pulumi.Int(2),
		}
	}
	spread := corev1.TopologySpreadConstraintArray{&corev1.TopologySpreadConstraintArgs{
		MaxSkew: pulumi.Int(1), TopologyKey: pulumi.String("kubernetes.io/hostname"),
		WhenUnsatisfiable: pulumi.String("ScheduleAnyway"),
		LabelSelector:     &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(b.selector())},
	}}
	if len(a.Zones) > 1 {
		spread = append(spread, &corev1.TopologySpreadConstraintArgs{
			MaxSkew: pulumi.Int(1), TopologyKey: pulumi.String("topology.kubernetes.io/zone"),
			WhenUnsatisfiable: pulumi.String("ScheduleAnyway"),
			LabelSelector:     &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(b.selector())},
		})
	}
	_, err := appsv1.NewDeployment(b.ctx, b.name+"-"+track, &appsv1.DeploymentArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String(a.Namespace), Labels: podLabels},
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(replicas),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(a.Name), trackLabel: pulumi.String(track)}},
			// A new replica must be ready before an old one goes: no capacity is lost in a rollout.
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type: pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
					MaxUnavailable: pulumi.Int(0),
					MaxSurge:       pulumi.String("25%"),
				},
			},
			RevisionHistoryLimit: pulumi.Int(5),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels: podLabels,
					Annotations: pulumi.StringMap{
						// Prometheus scrapes /metrics directly, outside the mesh's mTLS.
						"traffic.sidecar.istio.io/excludeInboundPorts": pulumi.Sprintf("%d", a.MetricsPort),
					},
				},
				Spec: &corev1.PodSpecArgs{
					ServiceAccountName:            pulumi.String(a.Name),
					AutomountServiceAccountToken:  pulumi.Bool(false),
					TerminationGracePeriodSeconds: pulumi.Int(30),
					SecurityContext: &corev1.PodSecurityContextArgs{
						RunAsNonRoot:   pulumi.Bool(true),
						RunAsUser:      pulumi.Int(nonRootUID),
						RunAsGroup:     pulumi.Int(nonRootUID),
						FsGroup:        pulumi.Int(nonRootUID),
						SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
					},
					TopologySpreadConstraints: spread,
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:            pulumi.String(a.Name),
						Image:           image,
						ImagePullPolicy: pulumi.String("IfNotPresent"),
						Ports: corev1.ContainerPortArray{
							&corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(a.Port)},
							&corev1.ContainerPortArgs{Name: pulumi.String("metrics"), ContainerPort: pulumi.Int(a.MetricsPort)},
						},
						Env: env,
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String(a.Resources.RequestCPU), "memory": pulumi.String(a.Resources.RequestMemory)},
							Limits:   pulumi.StringMap{"cpu": pulumi.String(a.Resources.LimitCPU), "memory": pulumi.String(a.Resources.LimitMemory)},
						},
						StartupProbe:   probe("/healthz", 2, 30),
						LivenessProbe:  probe("/healthz", 10, 3),
						ReadinessProbe: probe("/readyz", 5, 3),
						SecurityContext: &corev1.SecurityContextArgs{
							AllowPrivilegeEscalation: pulumi.Bool(false),
							ReadOnlyRootFilesystem:   pulumi.Bool(true),
							RunAsNonRoot:             pulumi.Bool(true),
							Privileged:               pulumi.Bool(false),
							Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
						},
						VolumeMounts: corev1.VolumeMountArray{&corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")}},
					}},
					Volumes: corev1.VolumeArray{&corev1.VolumeArgs{
						Name:     pulumi.String("tmp"),
						EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String("64Mi")},
					}},
				},
			},
		},
	}, b.opts...)
	return err
}

// Annotations on the Service that put Kong's requests through the mesh: Kong sends them to the
// Service's cluster IP (not to pod IPs, which bypass the sidecar's routing) with the Service's
// host, so the VirtualService's retries, timeouts, outlier detection and canary weights apply.
// https://developer.konghq.com/kubernetes-ingress-controller/reference/annotations
const (
	AnnotationServiceUpstream = "ingress.kubernetes.io/service-upstream"
	AnnotationHostHeader      = "konghq.com/host-header"
)

func (b *builder) service() error {
	a := b.args
	_, err := corev1.NewService(b.ctx, b.name, &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(a.Name), Namespace: pulumi.String(a.Namespace), Labels: b.labels(nil),
			Annotations: pulumi.StringMap{
				AnnotationServiceUpstream: pulumi.String("true"),
				AnnotationHostHeader:      pulumi.String(a.Name + "." + a.Namespace + ".svc.cluster.local"),
			},
		},
		Spec: &corev1.ServiceSpecArgs{
			Selector: pulumi.ToStringMap(b.selector()),
			Ports: corev1.ServicePortArray{
				// Istio reads the protocol from the port name.
				&corev1.ServicePortArgs{Name: pulumi.String("http"), Port: pulumi.Int(a.Port), TargetPort: pulumi.String("http"), AppProtocol: pulumi.String("http")},
				&corev1.ServicePortArgs{Name: pulumi.String("metrics"), Port: pulumi.Int(a.MetricsPort), TargetPort: pulumi.String("metrics")},
			},
		},
	}, b.opts...)
	return err
}
