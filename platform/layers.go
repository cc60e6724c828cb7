package platform

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/certmanager"
	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/components/istio"
	"github.com/groundwork/groundwork/components/kafka"
	"github.com/groundwork/groundwork/components/kong"
	"github.com/groundwork/groundwork/components/namespace"
	"github.com/groundwork/groundwork/components/observability"
	"github.com/groundwork/groundwork/components/postgres"
	"github.com/groundwork/groundwork/infra"
	"github.com/groundwork/groundwork/infra/aws"
	"github.com/groundwork/groundwork/services"
)

// Namespaces of the platform, one per concern.
const (
	NamespaceMonitoring = "monitoring"
	NamespaceIstio      = "istio-system"
	NamespaceIngress    = "istio-ingress"
	NamespaceKong       = "kong"
	NamespaceServices   = "services"
	// namespaceCNI holds the mesh's CNI node agent, which needs host access.
	namespaceCNI = "kube-system"
)

// Charts lists every chart the platform can install: the platform services', the operators of
// the in-cluster data stores, the log pipeline and the cluster autoscaler on aws.
func Charts() []chart.Spec {
	return slices.Concat(observability.Charts, observability.TraceCharts, istio.Charts, kong.Charts, dataCharts, observability.LogCharts, []chart.Spec{aws.AutoscalerChart}, certmanager.Charts)
}

// dataCharts are the operators of the in-cluster data stores, not installed where the cloud runs
// them (RDS, MSK).
var dataCharts = []chart.Spec{kafka.StrimziChart, postgres.OperatorChart}

// chartSource is where the stack's charts come from and what they are rendered for: the
// stack's Kubernetes version and the API versions of the CRDs the platform installs, never
// whatever cluster is reachable, so a render is the same with or without one.
func chartSource(cfg *Config) (chart.Source, error) {
	src, err := chart.ParseSource(cfg.Charts.Source)
	if err != nil {
		return chart.Source{}, fmt.Errorf("%s:charts.source: %w", Namespace, err)
	}
	return src.For(cfg.Kubernetes.Version, apiVersions(cfg)), nil
}

// apiVersions are the group/version/Kind of every custom resource the stack's charts install.
func apiVersions(cfg *Config) []string {
	v := slices.Concat(observability.APIVersions, istio.APIVersions, kong.APIVersions)
	if !cfg.managedData() {
		v = slices.Concat(v, kafka.APIVersions, postgres.APIVersions)
	}
	if l := cfg.Observability.Logs; l != nil && *l {
		v = slices.Concat(v, observability.LogAPIVersions)
	}
	if cfg.certManager() {
		v = slices.Concat(v, certmanager.APIVersions)
	}
	return v
}

// checkCharts resolves every chart the stack installs against the configured source before
// anything is created, so an air-gapped folder missing a chart fails with its name and version.
func checkCharts(cfg *Config, src chart.Source) error {
	needed := slices.Concat(observability.Charts, istio.Charts, kong.Charts)
	if !cfg.managedData() {
		needed = append(needed, dataCharts...)
	}
	if cfg.objectStorage() {
		needed = append(needed, observability.TraceCharts...)
	}
	if *cfg.Observability.Logs {
		needed = append(needed, observability.LogCharts...)
	}
	if cfg.Cloud == CloudAWS {
		needed = append(needed, aws.AutoscalerChart)
	}
	if cfg.certManager() {
		needed = append(needed, certmanager.Charts...)
	}
	var errs []error
	for _, spec := range needed {
		if _, err := src.Resolve(spec); err != nil {
			errs = append(errs, fmt.Errorf("%s:charts.source: %w", Namespace, err))
		}
	}
	return errors.Join(errs...)
}

// objectStorage tells whether the stack's cloud gives object storage for the platform's buckets:
// always on aws, with an S3 endpoint on openstack, with configured storage on an existing
// cluster. It decides, before the cluster exists, whether traces go to Tempo.
func (c *Config) objectStorage() bool {
	switch c.Cloud {
	case CloudAWS:
		return true
	case CloudOpenStack:
		return c.OpenStack.S3Endpoint != ""
	case CloudExisting:
		return c.Existing.ObjectStorage != nil
	}
	return false
}

// BackupsBucket is the bucket in-cluster databases back up to.
const BackupsBucket = "backups"

// bucketPurposes are the buckets a stack asks for, by name: traces always, logs when logs are
// aggregated, backups when the databases run in the cluster.
func bucketPurposes(cfg *Config) []string {
	out := []string{observability.TracesBucket}
	if *cfg.Observability.Logs {
		out = append(out, observability.LogsBucket)
	}
	if !cfg.managedData() {
		out = append(out, BackupsBucket)
	}
	return out
}

// buckets are the object storage the stack asks the base layer for, with the service accounts
// that use each. Each expires a week after its data's retention, a backstop behind the store's
// own compactor or backup retention. Backups are versioned and outlive the stack.
func buckets(cfg *Config, specs []services.Spec) []infra.Bucket {
	size := sizingFor(cfg.Environment)
	var out []infra.Bucket
	for _, name := range bucketPurposes(cfg) {
		switch name {
		case observability.TracesBucket:
			out = append(out, infra.Bucket{
				Name: name, ExpireDays: size.traceRetentionDays + 7,
				Users: []infra.ServiceAccount{{Namespace: NamespaceMonitoring, Name: observability.TempoServiceAccount}},
			})
		case observability.LogsBucket:
			out = append(out, infra.Bucket{
				Name: name, ExpireDays: cfg.Observability.LogRetentionDays + 7,
				Users: []infra.ServiceAccount{{Namespace: NamespaceMonitoring, Name: observability.LokiServiceAccount}},
			})
		case BackupsBucket:
			var users []infra.ServiceAccount
			for _, s := range specs {
				if s.Database != nil {
					users = append(users, infra.ServiceAccount{Namespace: NamespaceData, Name: postgres.ClusterName(s.Name)})
				}
			}
			if len(users) > 0 {
				out = append(out, infra.Bucket{
					Name: name, ExpireDays: dataSizingFor(cfg.Environment).backupRetentionDays + 7,
					Versioned: true, Retain: true, Users: users,
				})
			}
		}
	}
	return out
}

// sizing is what the environment decides about the platform services' capacity.
type sizing struct {
	istiod, gateway, kong     istio.Scale
	prometheus, alertmanager  int
	retention, metricsStorage string
	traceSampling             float64
	traceRetentionDays        int
	quota                     namespace.Quota
	defaults                  namespace.Defaults
}

func sizingFor(env string) sizing {
	if env == EnvProd {
		return sizing{
			istiod: istio.Scale{Min: 2, Max: 5}, gateway: istio.Scale{Min: 3, Max: 10}, kong: istio.Scale{Min: 3, Max: 10},
			prometheus: 2, alertmanager: 3, retention: "15d", metricsStorage: "100Gi",
			traceSampling: 10, traceRetentionDays: 14,
			quota:    namespace.Quota{RequestsCPU: "16", RequestsMemory: "64Gi", LimitsCPU: "48", LimitsMemory: "128Gi", Pods: 200},
			defaults: namespace.Defaults{RequestCPU: "100m", RequestMemory: "128Mi", LimitCPU: "1", LimitMemory: "512Mi"},
		}
	}
	return sizing{
		istiod: istio.Scale{Min: 1, Max: 2}, gateway: istio.Scale{Min: 1, Max: 3}, kong: istio.Scale{Min: 1, Max: 3},
		prometheus: 1, alertmanager: 1, retention: "3d", metricsStorage: "20Gi",
		traceSampling: 100, traceRetentionDays: 3,
		quota:    namespace.Quota{RequestsCPU: "4", RequestsMemory: "16Gi", LimitsCPU: "16", LimitsMemory: "32Gi", Pods: 100},
		defaults: namespace.Defaults{RequestCPU: "50m", RequestMemory: "64Mi", LimitCPU: "500m", LimitMemory: "256Mi"},
	}
}

// Platform is what the platform services layer hands to the domain services.
type Platform struct {
	Observability *observability.Observability
	Mesh          *istio.Mesh
	Kong          *kong.Kong
	namespaces    []pulumi.Resource
	specs         []services.Spec
}

// ready are what a domain service waits for: its namespace, the mesh (sidecar injection), the
// gateway (its routes) and the monitoring CRDs (its ServiceMonitor).
func (p *Platform) ready() []pulumi.Resource {
	return slices.Concat(p.namespaces, p.Mesh.Ready, p.Kong.Ready(), p.Observability.Ready)
}

// newPlatform installs the platform services on the cluster, in dependency order: namespaces,
// then monitoring (its CRDs come before anything that creates a ServiceMonitor), the mesh (its
// traces go to monitoring's tracing backend), then the API gateway inside the mesh.
func newPlatform(ctx *pulumi.Context, cfg *Config, cluster infra.Cluster, specs []services.Spec) (*Platform, error) {
	src, err := chartSource(cfg)
	if err != nil {
		// Validate has parsed it already; this guards a program change.
		return nil, err
	}
	size := sizingFor(cfg.Environment)
	on := pulumi.Providers(cluster.Provider())
	mirror := cfg.Images.RegistryMirror

	plat := &Platform{specs: specs}
	tags := tagsOf(ctx, cfg)
	// Kubelets, node-exporters, the API server's private endpoint and managed data stores.
	egress := cfg.Existing.NodeCIDRs
	if n := cluster.Network(); n != nil {
		egress = []string{n.CIDR}
	}
	namespaces := map[string]pulumi.Resource{}
	for _, ns := range []struct {
		name, podSecurity string
		mesh              bool
		allowFrom         []string
		openPorts         []int
		workloadPolicies  bool
	}{
		// node-exporter reads the host: the monitoring namespace alone is privileged. Every
		// sidecar sends traces to the collector; the API server calls the operator's webhook.
		{NamespaceMonitoring, namespace.Privileged, false, nil, []int{observability.OTLPGRPCPort, observability.OTLPHTTPPort, 10250}, false},
		// Sidecars everywhere fetch config and certificates from istiod; the API server calls
		// its injection and validation webhook.
		{NamespaceIstio, namespace.Baseline, false, []string{NamespaceMonitoring}, []int{15010, 15012, 15017, 15014}, false},
		// The load balancer reaches the gateway's listeners and health port from outside.
		{NamespaceIngress, namespace.Baseline, false, []string{NamespaceMonitoring}, []int{80, 8080, 443, 8443, 15021}, false},
		// Only the mesh gateway reaches Kong's proxy; the API server calls its webhook.
		{NamespaceKong, namespace.Baseline, true, []string{NamespaceIngress, NamespaceMonitoring}, []int{8080}, false},
		// Each service's own policy admits exactly its gateway, callers and Prometheus.
		{NamespaceServices, namespace.Restricted, true, nil, nil, true},
		// The data stores: reached by the services; the API server calls CloudNativePG's webhook.
		{NamespaceData, namespace.Baseline, false, []string{NamespaceServices, NamespaceMonitoring}, []int{9443}, false},
		{NamespaceKafka, namespace.Baseline, false, []string{NamespaceServices, NamespaceMonitoring}, nil, false},
	} {
		n, err := namespace.New(ctx, "ns-"+ns.name, namespace.Args{
			Name: ns.name, PodSecurity: ns.podSecurity, MeshInjection: ns.mesh,
			Quota: size.quota, Defaults: size.defaults,
			Labels:    tags.LabelMap("namespace"),
			AllowFrom: ns.allowFrom, OpenPorts: ns.openPorts, EgressCIDRs: egress, WorkloadPolicies: ns.workloadPolicies,
		}, on)
		if err != nil {
			return nil, err
		}
		namespaces[ns.name] = n
		plat.namespaces = append(plat.namespaces, n)
	}
	in := func(names ...string) []pulumi.Resource {
		var deps []pulumi.Resource
		for _, n := range names {
			deps = append(deps, namespaces[n])
		}
		return deps
	}

	obs, err := observability.New(ctx, "observability", observability.Args{
		Namespace: NamespaceMonitoring, Charts: src, ImageMirror: mirror,
		StorageClass:       cluster.StorageClass(),
		PrometheusReplicas: size.prometheus, AlertmanagerReplicas: size.alertmanager,
		Retention: size.retention, StorageSize: size.metricsStorage,
		Zones:              cluster.Zones(),
		HA:                 cfg.Environment == EnvProd,
		Traces:             cluster.ObjectStore(observability.TracesBucket),
		TraceRetentionDays: size.traceRetentionDays,
		LogStore:           cluster.ObjectStore(observability.LogsBucket),
		Logs:               *cfg.Observability.Logs,
		LogRetentionDays:   cfg.Observability.LogRetentionDays,
		LogStorageSize:     map[bool]string{false: "20Gi", true: "200Gi"}[cfg.Environment == EnvProd],
		RunbookURL:         cfg.Alerting.RunbookURL,
		Alerting:           cfg.Alerting.alerting(),
		Labels:             tags.LabelMap("observability"),
		After:              in(NamespaceMonitoring),
	}, on)
	if err != nil {
		return nil, err
	}
	mesh, err := istio.New(ctx, "istio", istio.Args{
		SystemNamespace: NamespaceIstio, GatewayNamespace: NamespaceIngress, CNINamespace: namespaceCNI,
		Charts: src, ImageMirror: mirror,
		Istiod: size.istiod, Gateway: size.gateway, Zones: cluster.Zones(),
		LoadBalancerAnnotations: cfg.loadBalancerAnnotations(cluster.LoadBalancerAnnotations()),
		TracingHost:             obs.TracingHost, TracingPort: obs.TracingPort, TraceSampling: size.traceSampling,
		UpstreamHost: kong.ProxyHost(NamespaceKong), UpstreamPort: kong.ProxyPort,
		Edge:   cfg.edge(),
		Labels: tags.LabelMap("istio"),
		After:  in(NamespaceIstio, NamespaceIngress),
	}, on)
	if err != nil {
		return nil, err
	}
	if err := installEdge(ctx, cfg, src, size, cluster, egress, tags, in(NamespaceIngress), on); err != nil {
		return nil, err
	}
	gw, err := kong.New(ctx, "kong", kong.Args{
		Namespace: NamespaceKong, Charts: src, ImageMirror: mirror,
		Scale: kong.Scale(size.kong), Zones: cluster.Zones(),
		GlobalPlugins: []kong.Plugin{
			// First on every request: client-sent identity headers removed, the tenant claim
			// set as the per-tenant rate-limit key.
			kong.TenantKey{Header: TenantHeader, Strip: ClientIdentityHeaders},
			kong.CorrelationID{Header: "X-Request-ID"},
			kong.Prometheus{},
			kong.RequestSizeLimiting{AllowedPayloadMB: 8},
			kong.RateLimiting{Minute: 600, Policy: "local"},
		},
		MonitoringReady: obs.Ready,
		Labels:          tags.LabelMap("kong"),
		After:           append(in(NamespaceKong), mesh.Ready...),
	}, on)
	if err != nil {
		return nil, err
	}
	plat.Observability, plat.Mesh, plat.Kong = obs, mesh, gw
	return plat, nil
}
