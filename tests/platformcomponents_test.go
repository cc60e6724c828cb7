package tests

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/components/istio"
	"github.com/groundwork/groundwork/components/kong"
	"github.com/groundwork/groundwork/components/observability"
	"github.com/groundwork/groundwork/infra"
)

// Component tests of the platform services (observability, mesh, API gateway): each one alone
// under mocks, with dev- and prod-like args, and the error for each invalid arg.

func remoteCharts(t *testing.T) chart.Source {
	t.Helper()
	src, err := chart.ParseSource(chart.SourceRemote)
	require.NoError(t, err)
	return forTestCluster(src)
}

// forTestCluster makes a chart source render for the Kubernetes version the stacks pin.
func forTestCluster(src chart.Source) chart.Source {
	if src.KubeVersion != "" {
		return src
	}
	return src.For("1.34.2", nil)
}

func devObservability(t *testing.T) observability.Args {
	return observability.Args{
		Namespace: "monitoring", Charts: remoteCharts(t), StorageClass: "standard",
		PrometheusReplicas: 1, AlertmanagerReplicas: 1, Retention: "3d", StorageSize: "20Gi",
	}
}

// keyedStore is an S3-compatible bucket reached with keys, as on OpenStack.
func keyedStore(bucket string) *infra.ObjectStore {
	return &infra.ObjectStore{
		Bucket: pulumi.String(bucket).ToStringOutput(), Endpoint: "https://object-store.example.com", Region: "us-east-1", PathStyle: true,
		AccessKeyID:     pulumi.String("ec2-access").ToStringOutput(),
		SecretAccessKey: pulumi.ToSecret(pulumi.String("ec2-secret")).(pulumi.StringOutput),
	}
}

func prodObservability(t *testing.T) observability.Args {
	a := devObservability(t)
	a.PrometheusReplicas, a.AlertmanagerReplicas, a.Retention, a.StorageSize = 2, 3, "15d", "100Gi"
	a.Zones = []string{"az1", "az2", "az3"}
	a.HA = true
	a.Traces, a.TraceRetentionDays = keyedStore("groundwork-prod-traces"), 14
	a.Logs, a.LogRetentionDays, a.LogStorageSize, a.LogStore = true, 30, "200Gi", keyedStore("groundwork-prod-logs")
	return a
}

func runObservability(t *testing.T, args observability.Args) (*mocks, error) {
	t.Helper()
	return runComponent(t, func(ctx *pulumi.Context, k8s pulumi.ResourceOption) error {
		_, err := observability.New(ctx, "observability", args, k8s)
		return err
	})
}

func TestObservabilityDevKeepsRecentTracesInMemory(t *testing.T) {
	m, err := runObservability(t, devObservability(t))
	require.NoError(t, err)
	assert.Len(t, named(m.ofType("kubernetes:apps/v1:Deployment"), "observability-jaeger"), 1)
	assert.Empty(t, named(m.ofType(helmChartType), "observability-tempo"), "no bucket: no Tempo")
	assert.Empty(t, named(m.ofType(helmChartType), "observability-loki"), "logs are off unless asked for")
	ds := get(m.byName(t, helmChartType, "observability").Inputs, "values.grafana.additionalDataSources").ArrayValue()
	require.Len(t, ds, 1)
	assert.Equal(t, "http://jaeger.monitoring.svc.cluster.local:16686", ds[0].ObjectValue()["url"].StringValue())
}

func TestObservabilityProdReplicatesTracesAndLogsOnTheirBuckets(t *testing.T) {
	m, err := runObservability(t, prodObservability(t))
	require.NoError(t, err)
	assert.Empty(t, named(m.ofType("kubernetes:apps/v1:Deployment"), "observability-jaeger"))

	tempo := m.byName(t, helmChartType, "observability-tempo")
	assert.Equal(t, "groundwork-prod-traces", get(tempo.Inputs, "values.storage.trace.s3.bucket").StringValue())
	assert.Equal(t, 3.0, get(tempo.Inputs, "values.ingester.config.replication_factor").NumberValue())
	assert.True(t, m.dependsOn(tempo, secretType2, "observability-tempo-object-store"), "Tempo waits for its keys")

	loki := m.byName(t, helmChartType, "observability-loki")
	assert.Equal(t, "SimpleScalable", get(loki.Inputs, "values.deploymentMode").StringValue())
	assert.Equal(t, "groundwork-prod-logs", get(loki.Inputs, "values.loki.storage.bucketNames.chunks").StringValue())
	assert.Equal(t, "${AWS_ACCESS_KEY_ID}", get(loki.Inputs, "values.loki.storage.s3.accessKeyId").StringValue())
	assert.True(t, get(loki.Inputs, "values.loki.storage.s3.s3ForcePathStyle").BoolValue())
	for _, c := range []string{"write", "read", "backend"} {
		assert.Equal(t, []string{"-config.expand-env=true"}, strs(get(loki.Inputs, "values."+c+".extraArgs")), c)
		assert.Equal(t, "loki-object-store", get(loki.Inputs, "values."+c+".extraEnvFrom").ArrayValue()[0].ObjectValue()["secretRef"].ObjectValue()["name"].StringValue(), c)
	}
	assert.True(t, m.dependsOn(loki, secretType2, "observability-loki-object-store"), "Loki waits for its keys")
	assert.True(t, m.waitsFor(m.byName(t, helmChartType, "observability-alloy"), loki))
	stack := m.byName(t, helmChartType, "observability")
	assert.Equal(t, 2.0, get(stack.Inputs, "values.prometheus.prometheusSpec.replicas").NumberValue())
	assert.Equal(t, 3.0, get(stack.Inputs, "values.alertmanager.alertmanagerSpec.replicas").NumberValue())
}

func TestObservabilityArgErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(a *observability.Args)
		want   string
	}{
		{"no namespace", func(a *observability.Args) { a.Namespace = "" }, "observability: Namespace and StorageClass are required"},
		{"no prometheus", func(a *observability.Args) { a.PrometheusReplicas = 0 }, "observability: replicas prometheus 0, alertmanager 3: want at least 1"},
		{"two alertmanagers", func(a *observability.Args) { a.AlertmanagerReplicas = 2 }, "observability: 2 Alertmanager replicas cannot keep a quorum; use 1 or 3"},
		{"no retention", func(a *observability.Args) { a.Retention = "" }, "observability: Retention and StorageSize are required"},
		{"logs without retention", func(a *observability.Args) { a.LogRetentionDays = 0 }, "observability: logs need a retention of at least one day (have 0) and a storage size"},
		{"traces without retention", func(a *observability.Args) { a.TraceRetentionDays = 0 }, "observability: traces need a retention of at least one day (have 0)"},
		{"HA without a traces bucket", func(a *observability.Args) { a.Traces = nil },
			"observability: HA keeps traces and logs in object storage; the traces bucket (and the logs bucket with Logs) are required"},
		{"HA logs without a bucket", func(a *observability.Args) { a.LogStore = nil },
			"observability: HA keeps traces and logs in object storage; the traces bucket (and the logs bucket with Logs) are required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := prodObservability(t)
			tt.change(&args)
			m, err := runObservability(t, args)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, 1, strings.Count(err.Error(), "observability:"), "one error for one bad arg: %v", err)
			assert.Empty(t, m.kubernetesObjects(), "nothing is created")
			assert.Empty(t, m.ofType(helmChartType))
		})
	}
}

func meshArgs(t *testing.T) istio.Args {
	return istio.Args{
		SystemNamespace: "istio-system", GatewayNamespace: "istio-ingress", CNINamespace: "kube-system", Charts: remoteCharts(t),
		Istiod: istio.Scale{Min: 2, Max: 5}, Gateway: istio.Scale{Min: 3, Max: 10}, Zones: []string{"az1", "az2", "az3"},
		LoadBalancerAnnotations: pulumi.StringMap{},
		TracingHost:             "tempo-distributor.monitoring.svc.cluster.local", TracingPort: 4317, TraceSampling: 10,
		UpstreamHost: "kong-kong-proxy.kong.svc.cluster.local", UpstreamPort: 80,
	}
}

func TestIstioArgErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(a *istio.Args)
		want   []string
	}{
		{"namespaces", func(a *istio.Args) { a.SystemNamespace, a.CNINamespace = "", "" },
			[]string{"istio: SystemNamespace is required", "istio: CNINamespace is required"}},
		{"scale", func(a *istio.Args) { a.Istiod = istio.Scale{Min: 3, Max: 2} }, []string{"istio: Istiod scale 3..2: want 1 <= min <= max"}},
		{"tracing", func(a *istio.Args) { a.TracingPort = 0 }, []string{`istio: tracing endpoint "tempo-distributor.monitoring.svc.cluster.local":0: want a host and a port`}},
		{"sampling", func(a *istio.Args) { a.TraceSampling = 150 }, []string{"istio: TraceSampling 150: want a percentage in (0, 100]"}},
		{"upstream", func(a *istio.Args) { a.UpstreamHost = "" }, []string{`istio: upstream "":80: want a host and a port`}},
		{"annotations", func(a *istio.Args) { a.LoadBalancerAnnotations = nil }, []string{"istio: LoadBalancerAnnotations is required (may be empty)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := meshArgs(t)
			tt.change(&args)
			m, err := runComponent(t, func(ctx *pulumi.Context, k8s pulumi.ResourceOption) error {
				_, err := istio.New(ctx, "istio", args, k8s)
				return err
			})
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, m.ofType(helmChartType), "nothing is created")
		})
	}
}

func TestKongArgErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(a *kong.Args)
		want   string
	}{
		{"namespace", func(a *kong.Args) { a.Namespace = "" }, "kong: Namespace is required"},
		{"scale", func(a *kong.Args) { a.Scale = kong.Scale{Min: 0, Max: 3} }, "kong: scale 0..3: want 1 <= min <= max"},
		{"plugin", func(a *kong.Args) { a.GlobalPlugins = []kong.Plugin{kong.RateLimiting{Policy: "cluster"}} },
			"rate-limiting: set at least one of Second, Minute, Hour\nrate-limiting: policy \"cluster\" is not allowed; allowed: local, redis"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := kong.Args{Namespace: "kong", Charts: remoteCharts(t), Scale: kong.Scale{Min: 3, Max: 10}}
			tt.change(&args)
			m, err := runComponent(t, func(ctx *pulumi.Context, k8s pulumi.ResourceOption) error {
				_, err := kong.New(ctx, "kong", args, k8s)
				return err
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, m.ofType(helmChartType), "nothing is created")
		})
	}
}
