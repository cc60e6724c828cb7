// Package observability installs the platform's monitoring: kube-prometheus-stack (Prometheus,
// Alertmanager, Grafana, the operator and its CRDs) from its official chart, alerting rules for
// the four golden signals, Alertmanager's receivers and routes, Grafana dashboards provisioned
// from ConfigMaps, scraping of every mesh proxy, the tracing backend the mesh sends
// OpenTelemetry traces to (Grafana Tempo on object storage; Jaeger in memory where a dev stack
// has no object storage), and optionally log aggregation (Loki and Alloy).
package observability

import (
	"errors"
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/infra"
)

// Stack is kube-prometheus-stack 88.5.3 (prometheus-operator v0.93.1; Grafana chart 12.11.1,
// kube-state-metrics 8.4.0, node-exporter 4.56.1), the newest release whose contents were checked:
// its render is tested (tests/render_test.go).
var Stack = chart.Spec{Name: "kube-prometheus-stack", Version: "88.5.3", Repo: "https://prometheus-community.github.io/helm-charts"}

// Charts lists the charts every stack installs; TraceCharts the durable tracing backend's,
// installed with a traces bucket; LogCharts the log pipeline's.
var (
	Charts      = []chart.Spec{Stack}
	TraceCharts = []chart.Spec{Tempo}
)

// JaegerVersion is the Jaeger v2 release of the in-memory tracing backend
// (jaegertracing/jaeger), used where there is no bucket for traces.
const JaegerVersion = "2.21.0"

// tempoDatasource is the Grafana datasource UID of Tempo, which log lines link to.
const tempoDatasource = "tempo"

// OTLP ports of the tracing backend.
const (
	OTLPGRPCPort = 4317
	OTLPHTTPPort = 4318
	jaegerUIPort = 16686
)

// Args configures the monitoring stack.
type Args struct {
	Namespace string
	Charts    chart.Source
	// ImageMirror replaces every upstream registry of the stack's images. Optional.
	ImageMirror string
	// StorageClass backs Prometheus, Alertmanager and Grafana volumes.
	StorageClass string
	// PrometheusReplicas and AlertmanagerReplicas: 2 and 3 in prod survive a node loss.
	PrometheusReplicas   int
	AlertmanagerReplicas int
	// Retention is how long Prometheus keeps samples, e.g. "15d"; StorageSize its volume.
	Retention   string
	StorageSize string
	Zones       []string
	// HA runs the trace and log stores replicated across nodes and zones (prod).
	HA bool
	// Traces is the bucket for trace blocks: with it, traces go to Tempo, kept
	// TraceRetentionDays; without it (a dev stack on a cloud with no object storage), to
	// Jaeger, which keeps the last traces in memory. HA needs it.
	Traces             *infra.ObjectStore
	TraceRetentionDays int
	// Logs installs log aggregation: Loki and the Alloy collector. Optional.
	Logs bool
	// LogRetentionDays and LogStorageSize size Loki when Logs is set; LogStore is its bucket
	// (without one Loki keeps logs on a volume, and cannot be HA).
	LogRetentionDays int
	LogStorageSize   string
	LogStore         *infra.ObjectStore
	// Alerting routes alerts to receivers. Optional: without it alerts stay in Alertmanager.
	Alerting *Alerting
	// RunbookURL is the runbooks file every alert links a section of (http or https). Optional
	// in tests; the platform always sets it.
	RunbookURL string
	// Labels go on every object the component creates (ownership labels).
	Labels map[string]string
	// After are resources every object of the stack waits for, e.g. its namespace. A
	// component's own dependencies do not reach its children, so they are passed here.
	After []pulumi.Resource
}

func (a Args) validate() error {
	var errs []error
	if a.Namespace == "" || a.StorageClass == "" {
		errs = append(errs, errors.New("observability: Namespace and StorageClass are required"))
	}
	if a.PrometheusReplicas < 1 || a.AlertmanagerReplicas < 1 {
		errs = append(errs, fmt.Errorf("observability: replicas prometheus %d, alertmanager %d: want at least 1", a.PrometheusReplicas, a.AlertmanagerReplicas))
	}
	if a.AlertmanagerReplicas == 2 {
		errs = append(errs, errors.New("observability: 2 Alertmanager replicas cannot keep a quorum; use 1 or 3"))
	}
	if a.Retention == "" || a.StorageSize == "" {
		errs = append(errs, errors.New("observability: Retention and StorageSize are required"))
	}
	if a.Logs && (a.LogRetentionDays < 1 || a.LogStorageSize == "") {
		errs = append(errs, fmt.Errorf("observability: logs need a retention of at least one day (have %d) and a storage size", a.LogRetentionDays))
	}
	if a.Traces != nil && a.TraceRetentionDays < 1 {
		errs = append(errs, fmt.Errorf("observability: traces need a retention of at least one day (have %d)", a.TraceRetentionDays))
	}
	if a.Alerting != nil {
		errs = append(errs, a.Alerting.validate())
	}
	if a.HA && (a.Traces == nil || (a.Logs && a.LogStore == nil)) {
		errs = append(errs, errors.New("observability: HA keeps traces and logs in object storage; the traces bucket (and the logs bucket with Logs) are required"))
	}
	return errors.Join(errs...)
}

// Observability is the installed stack.
type Observability struct {
	pulumi.ResourceState

	// TracingHost and TracingPort are the OTLP/gRPC endpoint for traces.
	TracingHost string
	TracingPort int
	// TracingPodLabels select the pods that receive the traces (Tempo's distributors, or
	// Jaeger): network policies open trace egress to them.
	TracingPodLabels map[string]string
	// GrafanaAdminPassword is generated, and a secret.
	GrafanaAdminPassword pulumi.StringOutput
	// Ready defines the monitoring kinds (ServiceMonitor, PodMonitor, PrometheusRule): anything
	// creating those waits for it.
	Ready []pulumi.Resource
}

// New installs the stack. Kubernetes objects go to the provider given in opts.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Observability, error) {
	if err := args.validate(); err != nil {
		return nil, err
	}
	o := &Observability{TracingPort: OTLPGRPCPort}
	if err := ctx.RegisterComponentResource("groundwork:platform:Observability", name, o, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(o)
	after := chart.DependsOn(args.After)

	password, err := random.NewRandomPassword(ctx, name+"-grafana-admin", &random.RandomPasswordArgs{
		Length: pulumi.Int(32), Special: pulumi.Bool(false),
	}, parent)
	if err != nil {
		return nil, err
	}
	o.GrafanaAdminPassword = pulumi.ToSecret(password.Result).(pulumi.StringOutput)
	adminSecret, err := corev1.NewSecret(ctx, name+"-grafana-admin", &corev1.SecretArgs{
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String("grafana-admin"), Namespace: pulumi.String(args.Namespace), Labels: pulumi.ToStringMap(args.Labels)},
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.StringMap{"admin-user": pulumi.String("admin"), "admin-password": o.GrafanaAdminPassword},
	}, parent, after)
	if err != nil {
		return nil, err
	}

	volume := func(size string) pulumi.Map {
		return pulumi.Map{"volumeClaimTemplate": pulumi.Map{"spec": pulumi.Map{
			"storageClassName": pulumi.String(args.StorageClass),
			"accessModes":      pulumi.StringArray{pulumi.String("ReadWriteOnce")},
			"resources":        pulumi.Map{"requests": pulumi.Map{"storage": pulumi.String(size)}},
		}}}
	}
	var traces pulumi.Map
	if args.Traces != nil {
		host, queryURL, err := tempo(ctx, name, args, parent, after)
		if err != nil {
			return nil, fmt.Errorf("observability tempo: %w", err)
		}
		o.TracingHost = host
		o.TracingPodLabels = tempoDistributorLabels
		traces = pulumi.Map{"name": pulumi.String("Tempo"), "uid": pulumi.String(tempoDatasource), "type": pulumi.String("tempo"), "url": pulumi.String(queryURL)}
	} else {
		if err := jaeger(ctx, name, args, chart.Registry(args.ImageMirror, "docker.io/jaegertracing"), parent, after); err != nil {
			return nil, fmt.Errorf("observability jaeger: %w", err)
		}
		o.TracingHost = "jaeger." + args.Namespace + ".svc.cluster.local"
		o.TracingPodLabels = map[string]string{"app.kubernetes.io/name": "jaeger"}
		traces = pulumi.Map{"name": pulumi.String("Jaeger"), "type": pulumi.String("jaeger"), "url": pulumi.String(fmt.Sprintf("http://%s:%d", o.TracingHost, jaegerUIPort))}
	}
	traces["access"] = pulumi.String("proxy")
	dataSources := pulumi.Array{traces}
	if args.Logs {
		lokiURL, err := logs(ctx, name, args, parent, after)
		if err != nil {
			return nil, fmt.Errorf("observability logs: %w", err)
		}
		source := pulumi.Map{
			"name": pulumi.String("Loki"), "type": pulumi.String("loki"), "access": pulumi.String("proxy"), "url": pulumi.String(lokiURL),
		}
		if args.Traces != nil {
			// A service's log line carries the trace it belongs to ("trace_id", from the chassis):
			// Grafana links it to the trace in Tempo. "$$" is a literal "$" in provisioning files.
			source["jsonData"] = pulumi.Map{"derivedFields": pulumi.Array{pulumi.Map{
				"name":          pulumi.String("TraceID"),
				"matcherRegex":  pulumi.String(`"trace_id":"([0-9a-f]{32})"`),
				"datasourceUid": pulumi.String(tempoDatasource),
				"url":           pulumi.String("$${__value.raw}"),
			}}}
		}
		dataSources = append(dataSources, source)
	}
	values := pulumi.Map{
		"crds": pulumi.Map{"enabled": pulumi.Bool(true)},
		"prometheus": pulumi.Map{"prometheusSpec": pulumi.Map{
			"replicas":    pulumi.Int(args.PrometheusReplicas),
			"retention":   pulumi.String(args.Retention),
			"storageSpec": volume(args.StorageSize),
			// Select every ServiceMonitor, PodMonitor and rule, not only the chart's own.
			"serviceMonitorSelectorNilUsesHelmValues": pulumi.Bool(false),
			"podMonitorSelectorNilUsesHelmValues":     pulumi.Bool(false),
			"ruleSelectorNilUsesHelmValues":           pulumi.Bool(false),
			"resources":                               resources("500m", "2Gi", "2", "6Gi"),
			"topologySpreadConstraints":               zoneSpread(args.Zones, "prometheus"),
		}},
		"alertmanager": pulumi.Map{"alertmanagerSpec": pulumi.Map{
			"replicas":                  pulumi.Int(args.AlertmanagerReplicas),
			"storage":                   volume("5Gi"),
			"resources":                 resources("50m", "128Mi", "500m", "512Mi"),
			"topologySpreadConstraints": zoneSpread(args.Zones, "alertmanager"),
		}},
		"grafana": pulumi.Map{
			"admin":       pulumi.Map{"existingSecret": pulumi.String("grafana-admin"), "userKey": pulumi.String("admin-user"), "passwordKey": pulumi.String("admin-password")},
			"persistence": pulumi.Map{"enabled": pulumi.Bool(true), "storageClassName": pulumi.String(args.StorageClass), "size": pulumi.String("10Gi")},
			"resources":   resources("100m", "256Mi", "1", "1Gi"),
			// The chart's defaults with a read-only root (Grafana writes only to its volume and
			// /tmp); the volume's group is the pod's fsGroup (472), so the chart's root
			// init-chown-data container is not needed.
			"containerSecurityContext": restricted(),
			"extraEmptyDirMounts":      pulumi.Array{pulumi.Map{"name": pulumi.String("tmp"), "mountPath": pulumi.String("/tmp")}},
			"initChownData":            pulumi.Map{"enabled": pulumi.Bool(false)},
			"additionalDataSources":    dataSources,
			// Dashboards come from ConfigMaps labelled grafana_dashboard: "1", in any namespace
			// (each service's sits beside it).
			"sidecar": pulumi.Map{
				"dashboards": pulumi.Map{
					"enabled": pulumi.Bool(true), "label": pulumi.String(DashboardLabel), "labelValue": pulumi.String(DashboardLabelValue),
					"searchNamespace": pulumi.String("ALL"), "folderAnnotation": pulumi.String("grafana_folder"),
					"provider": pulumi.Map{"foldersFromFilesStructure": pulumi.Bool(true)},
				},
				// The dashboard and datasource sidecars write only to their mounted folders.
				"securityContext": restricted(),
				"resources":       resources("10m", "64Mi", "200m", "256Mi"),
			},
		},
		"prometheusOperator": pulumi.Map{
			"resources": resources("50m", "128Mi", "500m", "512Mi"),
			// The jobs that make and patch the admission webhook's certificate.
			"admissionWebhooks": pulumi.Map{"patch": pulumi.Map{"resources": resources("10m", "32Mi", "100m", "128Mi")}},
		},
		"kube-state-metrics": pulumi.Map{"resources": resources("50m", "128Mi", "500m", "512Mi")},
		// The chart sets a read-only root only; node-exporter reads the host's /proc, /sys and
		// root through its mounts as nobody and needs no privilege or capability.
		"prometheus-node-exporter": pulumi.Map{
			"containerSecurityContext": restricted(),
			"resources":                resources("20m", "32Mi", "250m", "128Mi"),
		},
		"defaultRules": pulumi.Map{"create": pulumi.Bool(true)},
		// No cluster of the platform lets Prometheus scrape these: EKS runs the scheduler,
		// controller manager and etcd outside the cluster, and kubeadm-made clusters (Magnum's
		// Cluster API driver, kind) bind their metrics and kube-proxy's to 127.0.0.1. Their
		// monitors would be targets down for good, their Down alerts firing and their
		// dashboards empty.
		"kubeControllerManager": pulumi.Map{"enabled": pulumi.Bool(false)},
		"kubeScheduler":         pulumi.Map{"enabled": pulumi.Bool(false)},
		"kubeEtcd":              pulumi.Map{"enabled": pulumi.Bool(false)},
		"kubeProxy":             pulumi.Map{"enabled": pulumi.Bool(false)},
	}
	if args.ImageMirror != "" {
		values["global"] = pulumi.Map{"imageRegistry": pulumi.String(args.ImageMirror)}
	}
	chartDeps := []pulumi.Resource{adminSecret}
	if args.Alerting != nil {
		config, files := args.Alerting.alertmanagerConfig()
		receivers, err := corev1.NewSecret(ctx, name+"-alert-receivers", &corev1.SecretArgs{
			Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(AlertingSecret), Namespace: pulumi.String(args.Namespace), Labels: pulumi.ToStringMap(args.Labels)},
			Type:       pulumi.String("Opaque"),
			StringData: files,
		}, parent, after)
		if err != nil {
			return nil, err
		}
		chartDeps = append(chartDeps, receivers)
		am := values["alertmanager"].(pulumi.Map)
		am["config"] = chart.Value(config)
		am["alertmanagerSpec"].(pulumi.Map)["secrets"] = pulumi.StringArray{pulumi.String(AlertingSecret)}
	}
	stack, err := chart.Install(ctx, name, Stack, args.Charts, chart.Args{Namespace: args.Namespace, Values: values, Labels: args.Labels},
		parent, after, chart.DependsOn(chartDeps))
	if err != nil {
		return nil, err
	}
	o.Ready = []pulumi.Resource{stack}

	if _, err := NewDashboard(ctx, name+"-dashboard-platform", args.Namespace, platformDashboard(), args.Labels, parent, after); err != nil {
		return nil, err
	}
	if err := meshMonitoring(ctx, name, args.Namespace, args.RunbookURL, args.Labels, parent, after, chart.DependsOn(o.Ready)); err != nil {
		return nil, err
	}
	return o, ctx.RegisterResourceOutputs(o, pulumi.Map{
		"tracingHost":          pulumi.String(o.TracingHost),
		"grafanaAdminPassword": o.GrafanaAdminPassword,
	})
}

// jaeger runs the Jaeger v2 all-in-one: an OTLP receiver, in-memory storage and the query UI.
// In-memory storage keeps the last traces only and cannot be replicated: one replica.
func jaeger(ctx *pulumi.Context, name string, args Args, registry string, opts ...pulumi.ResourceOption) error {
	labels := pulumi.StringMap{"app.kubernetes.io/name": pulumi.String("jaeger")}
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String("jaeger"), Namespace: pulumi.String(args.Namespace),
		Labels: infra.WithLabels(args.Labels, map[string]string{"app.kubernetes.io/name": "jaeger"})}
	ports := []struct {
		name string
		port int
	}{{"otlp-grpc", OTLPGRPCPort}, {"otlp-http", OTLPHTTPPort}, {"http-query", jaegerUIPort}}
	containerPorts := corev1.ContainerPortArray{}
	servicePorts := corev1.ServicePortArray{}
	for _, p := range ports {
		containerPorts = append(containerPorts, &corev1.ContainerPortArgs{Name: pulumi.String(p.name), ContainerPort: pulumi.Int(p.port)})
		servicePorts = append(servicePorts, &corev1.ServicePortArgs{Name: pulumi.String(p.name), Port: pulumi.Int(p.port), TargetPort: pulumi.String(p.name)})
	}
	if _, err := appsv1.NewDeployment(ctx, name+"-jaeger", &appsv1.DeploymentArgs{
		Metadata: meta,
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(1),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels},
				Spec: &corev1.PodSpecArgs{
					SecurityContext: &corev1.PodSecurityContextArgs{
						RunAsNonRoot:   pulumi.Bool(true),
						RunAsUser:      pulumi.Int(10001),
						SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
					},
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:  pulumi.String("jaeger"),
						Image: pulumi.Sprintf("%s/jaeger:%s", registry, JaegerVersion),
						Ports: containerPorts,
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("100m"), "memory": pulumi.String("256Mi")},
							Limits:   pulumi.StringMap{"cpu": pulumi.String("1"), "memory": pulumi.String("1Gi")},
						},
						ReadinessProbe: &corev1.ProbeArgs{HttpGet: &corev1.HTTPGetActionArgs{Path: pulumi.String("/"), Port: pulumi.Int(jaegerUIPort)}},
						LivenessProbe:  &corev1.ProbeArgs{TcpSocket: &corev1.TCPSocketActionArgs{Port: pulumi.Int(OTLPGRPCPort)}},
						SecurityContext: &corev1.SecurityContextArgs{
							AllowPrivilegeEscalation: pulumi.Bool(false),
							ReadOnlyRootFilesystem:   pulumi.Bool(true),
							Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
						},
					}},
				},
			},
		},
	}, opts...); err != nil {
		return err
	}
	_, err := corev1.NewService(ctx, name+"-jaeger", &corev1.ServiceArgs{
		Metadata: meta,
		Spec:     &corev1.ServiceSpecArgs{Selector: labels, Ports: servicePorts},
	}, opts...)
	return err
}

// resources are a container's requests and limits.
func resources(cpu, memory, cpuLimit, memoryLimit string) pulumi.Map {
	return pulumi.Map{
		"requests": pulumi.Map{"cpu": pulumi.String(cpu), "memory": pulumi.String(memory)},
		"limits":   pulumi.Map{"cpu": pulumi.String(cpuLimit), "memory": pulumi.String(memoryLimit)},
	}
}

// restricted is a container security context with no privilege, no capability and a read-only
// root, for the charts' containers whose defaults leave one of these out.
func restricted() pulumi.Map {
	return pulumi.Map{
		"allowPrivilegeEscalation": pulumi.Bool(false),
		"privileged":               pulumi.Bool(false),
		"readOnlyRootFilesystem":   pulumi.Bool(true),
		"capabilities":             pulumi.Map{"drop": pulumi.StringArray{pulumi.String("ALL")}},
		"seccompProfile":           pulumi.Map{"type": pulumi.String("RuntimeDefault")},
	}
}

// zoneSpread keeps replicas apart across zones where there are several.
func zoneSpread(zones []string, app string) pulumi.Array {
	return spreadBy(zones, map[string]string{"app.kubernetes.io/name": app})
}

// spreadBy keeps the pods matching labels apart across zones where there are several.
func spreadBy(zones []string, labels map[string]string) pulumi.Array {
	if len(zones) < 2 {
		return pulumi.Array{}
	}
	return pulumi.Array{pulumi.Map{
		"maxSkew": pulumi.Int(1), "topologyKey": pulumi.String("topology.kubernetes.io/zone"),
		"whenUnsatisfiable": pulumi.String("ScheduleAnyway"),
		"labelSelector":     pulumi.Map{"matchLabels": pulumi.ToStringMap(labels)},
	}}
}

// APIVersions are the custom resources kube-prometheus-stack installs (prometheus-operator), as group/version/Kind: charts are
// rendered knowing they exist (chart.Source.For), with or without a cluster to ask. The render
// test checks the list against the CRDs the chart ships.
var APIVersions = []string{
	"monitoring.coreos.com/v1/Alertmanager",
	"monitoring.coreos.com/v1/PodMonitor",
	"monitoring.coreos.com/v1/Probe",
	"monitoring.coreos.com/v1/Prometheus",
	"monitoring.coreos.com/v1/PrometheusRule",
	"monitoring.coreos.com/v1/ServiceMonitor",
	"monitoring.coreos.com/v1/ThanosRuler",
	"monitoring.coreos.com/v1alpha1/AlertmanagerConfig",
	"monitoring.coreos.com/v1alpha1/PrometheusAgent",
	"monitoring.coreos.com/v1alpha1/ScrapeConfig",
}
