package tests

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/platform"
	"github.com/groundwork/groundwork/policy/rules"
)

const helmChartType = chart.ChartType

// waitsFor tells whether r waits for x: x itself, or anything x contains, is among r's
// dependencies or theirs (the engine orders a resource after its dependencies, and so after
// theirs: a chart's release record stands for all of the chart's objects).
func (m *mocks) waitsFor(r, x Recorded) bool {
	byURN := make(map[string]Recorded, len(m.resources))
	for _, y := range m.resources {
		byURN[y.URN] = y
	}
	seen := map[string]bool{}
	queue := slices.Clone(r.Deps)
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if seen[d] {
			continue
		}
		seen[d] = true
		for p := d; p != ""; p = byURN[p].Parent {
			if p == x.URN {
				return true
			}
		}
		queue = append(queue, byURN[d].Deps...)
	}
	return false
}

func TestPlatformServicesInstallInDependencyOrder(t *testing.T) {
	for _, tt := range stackCases {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, tt.stack, tt.config(t), nil, platform.Run)
			require.NoError(t, err)

			charts := map[string]Recorded{}
			for _, c := range m.ofType(helmChartType) {
				charts[c.Name] = c
			}
			want := []string{"observability", "istio-base", "istio-cni", "istio-istiod", "istio-gateway", "kong"}
			if cfg := tt.config(t); cfg["groundwork:cloud"] != "aws" || !strings.Contains(cfg["groundwork:data"], `"managed":true`) {
				// Data stores run in the cluster: their operators come from charts too.
				want = append(want, "kafka-operator", "postgres-operator")
			}
			if cfg := tt.config(t); cfg["groundwork:cloud"] == "aws" || strings.Contains(cfg["groundwork:openstack"], `"s3Endpoint"`) {
				// The cloud gives object storage: traces are kept in Tempo.
				want = append(want, "observability-tempo")
			}
			if cfg := tt.config(t); cfg["groundwork:cloud"] == "aws" {
				// EKS node groups grow and shrink only with the cluster autoscaler.
				want = append(want, "groundwork-"+tt.stack+"-cluster-autoscaler")
			}
			if tt.stack == "prod" {
				// Prod aggregates logs unless told otherwise.
				want = append(want, "observability-loki", "observability-alloy")
			}
			// Both stack files serve HTTPS with a certificate cert-manager issues.
			want = append(want, "cert-manager")
			require.ElementsMatch(t, want, mapKeys(charts))
			for _, c := range charts {
				assert.NotEmpty(t, get(c.Inputs, "version").StringValue(), "%s is pinned", c.Name)
				assert.NotContains(t, get(c.Inputs, "version").StringValue(), "latest")
			}
			// CRDs before their users: istio base → cni → istiod → gateway; Kong inside a ready mesh.
			for _, order := range [][2]string{
				{"istio-cni", "istio-base"}, {"istio-istiod", "istio-base"}, {"istio-istiod", "istio-cni"},
				{"istio-gateway", "istio-istiod"}, {"kong", "istio-istiod"}, {"kong", "observability"},
			} {
				assert.Truef(t, m.waitsFor(charts[order[0]], charts[order[1]]), "%s must wait for %s", order[0], order[1])
			}
			// Every chart waits for the namespace it installs into.
			nsOf := map[string]string{"observability": "ns-monitoring", "observability-tempo": "ns-monitoring", "istio-istiod": "ns-istio-system", "istio-gateway": "ns-istio-ingress",
				"kong": "ns-kong", "kafka-operator": "ns-kafka", "postgres-operator": "ns-data", "cert-manager": "ns-cert-manager"}
			for chartName, ns := range nsOf {
				if c, ok := charts[chartName]; ok {
					assert.Truef(t, m.waitsFor(c, m.byName(t, "groundwork:platform:Namespace", ns)), "%s must wait for %s", chartName, ns)
				}
			}
			mtls := m.byName(t, "kubernetes:security.istio.io/v1:PeerAuthentication", "istio-mtls")
			assert.Equal(t, "STRICT", get(mtls.Inputs, "spec.mtls.mode").StringValue())
			assert.Equal(t, "istio-system", get(mtls.Inputs, "metadata.namespace").StringValue(), "mesh-wide: the root namespace")
			assert.True(t, m.waitsFor(mtls, charts["istio-istiod"]))
			for _, sm := range m.ofType("kubernetes:monitoring.coreos.com/v1:PrometheusRule") {
				if rules.RenderedByChart(sm.URN) {
					continue // the chart's own, applied with its CRDs by the provider
				}
				assert.True(t, m.waitsFor(sm, charts["observability"]), "monitoring kinds wait for their CRDs")
			}
		})
	}
}

func mapKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestNamespacesCarryPodSecurityQuotaAndLimits(t *testing.T) {
	m, err := run(t, "prod", stackConfig(t, "prod"), nil, platform.Run)
	require.NoError(t, err)
	want := map[string]struct {
		enforce string
		mesh    bool
	}{
		"monitoring": {"privileged", false}, "istio-system": {"baseline", false}, "istio-ingress": {"baseline", false},
		"kong": {"baseline", true}, "services": {"restricted", true},
		"data": {"baseline", false}, "kafka": {"baseline", false},
		// Prod's stack file issues its edge certificate with cert-manager.
		"cert-manager": {"restricted", false},
	}
	nss := m.ofType("kubernetes:core/v1:Namespace")
	require.Len(t, nss, len(want))
	for _, ns := range nss {
		name := get(ns.Inputs, "metadata.name").StringValue()
		w, ok := want[name]
		require.Truef(t, ok, "unexpected namespace %s", name)
		labels := get(ns.Inputs, "metadata.labels").ObjectValue()
		assert.Equal(t, w.enforce, labels["pod-security.kubernetes.io/enforce"].StringValue(), name)
		assert.Equal(t, "restricted", labels["pod-security.kubernetes.io/warn"].StringValue(), name)
		assert.Equal(t, w.mesh, labels["istio-injection"].IsString() && labels["istio-injection"].StringValue() == "enabled", name)
		quota := m.byName(t, "kubernetes:core/v1:ResourceQuota", ns.Name+"-quota")
		assert.Equal(t, name, get(quota.Inputs, "metadata.namespace").StringValue())
		assert.Equal(t, "200", get(quota.Inputs, "spec.hard.pods").StringValue())
		limits := m.byName(t, "kubernetes:core/v1:LimitRange", ns.Name+"-limits")
		item := get(limits.Inputs, "spec.limits").ArrayValue()[0].ObjectValue()
		assert.Equal(t, "512Mi", item["default"].ObjectValue()["memory"].StringValue())
	}
}

func TestPlatformServicesAreHighlyAvailableInProd(t *testing.T) {
	tests := []struct {
		stack                                 string
		istiod, gateway, kong, prom, alertmgr float64
		budget                                string
		sampling                              float64
	}{
		{stack: "dev", istiod: 1, gateway: 1, kong: 1, prom: 1, alertmgr: 1, sampling: 100},
		{stack: "prod", istiod: 2, gateway: 3, kong: 3, prom: 2, alertmgr: 3, budget: "minAvailable", sampling: 10},
	}
	for _, tt := range tests {
		t.Run(tt.stack, func(t *testing.T) {
			m, err := run(t, tt.stack, stackConfig(t, tt.stack), nil, platform.Run)
			require.NoError(t, err)
			istiod := m.byName(t, helmChartType, "istio-istiod")
			assert.Equal(t, tt.istiod, get(istiod.Inputs, "values.autoscaleMin").NumberValue())
			gw := m.byName(t, helmChartType, "istio-gateway")
			assert.Equal(t, tt.gateway, get(gw.Inputs, "values.autoscaling.minReplicas").NumberValue())
			if tt.budget != "" {
				assert.True(t, get(gw.Inputs, "values.podDisruptionBudget."+tt.budget).HasValue(), "gateway PDB")
			} else {
				assert.Empty(t, get(gw.Inputs, "values.podDisruptionBudget").ObjectValue(), "no gateway PDB at one replica: it would block every drain")
			}
			kong := m.byName(t, helmChartType, "kong")
			assert.Equal(t, tt.kong, get(kong.Inputs, "values.autoscaling.minReplicas").NumberValue())
			assert.Equal(t, tt.kong >= 2, get(kong.Inputs, "values.podDisruptionBudget.enabled").BoolValue(), "a Kong PDB only with two replicas or more")
			assert.Equal(t, "off", get(kong.Inputs, "values.env.database").StringValue(), "DB-less")
			assert.Equal(t, "ClusterIP", get(kong.Inputs, "values.proxy.type").StringValue(), "Kong is reached through the mesh gateway only")
			// Per-IP rate limits count the client the ingress gateway saw, not the mesh peer
			// (which is the same for every request): the last X-Forwarded-For entry.
			assert.Equal(t, "X-Forwarded-For", get(kong.Inputs, "values.env.real_ip_header").StringValue())
			assert.Equal(t, "off", get(kong.Inputs, "values.env.real_ip_recursive").StringValue(), "the last entry, the one the gateway appended")
			assert.NotEmpty(t, get(kong.Inputs, "values.env.trusted_ips").StringValue(), "the mesh peers are trusted to pass the client's address")
			obs := m.byName(t, helmChartType, "observability")
			assert.Equal(t, tt.prom, get(obs.Inputs, "values.prometheus.prometheusSpec.replicas").NumberValue())
			assert.Equal(t, tt.alertmgr, get(obs.Inputs, "values.alertmanager.alertmanagerSpec.replicas").NumberValue())
			tel := m.byName(t, "kubernetes:telemetry.istio.io/v1:Telemetry", "istio-telemetry")
			tracing := get(tel.Inputs, "spec.tracing").ArrayValue()[0].ObjectValue()
			assert.Equal(t, tt.sampling, tracing["randomSamplingPercentage"].NumberValue())
		})
	}
}

func TestGatewayUsesTheCloudsLoadBalancer(t *testing.T) {
	tests := []struct {
		stack, cloud, annotation, want string
	}{
		{"prod", "aws", "service.beta.kubernetes.io/aws-load-balancer-type", "nlb"},
		{"dev", "openstack", "loadbalancer.openstack.org/floating-network-id", uuid("net-public")},
	}
	for _, tt := range tests {
		t.Run(tt.cloud, func(t *testing.T) {
			cfg := stackConfig(t, tt.stack)
			cfg["groundwork:cloud"] = tt.cloud
			m, err := run(t, tt.stack, cfg, nil, platform.Run)
			require.NoError(t, err)
			gw := m.byName(t, helmChartType, "istio-gateway")
			assert.Equal(t, "LoadBalancer", get(gw.Inputs, "values.service.type").StringValue())
			assert.Equal(t, tt.want, get(gw.Inputs, "values.service.annotations").ObjectValue()[resource.PropertyKey(tt.annotation)].StringValue())
			vs := m.byName(t, "kubernetes:networking.istio.io/v1:VirtualService", "istio-to-api-gateway")
			dest := get(vs.Inputs, "spec.http").ArrayValue()[0].ObjectValue()["route"].ArrayValue()[0].ObjectValue()["destination"].ObjectValue()
			assert.Equal(t, "kong-proxy.kong.svc.cluster.local", dest["host"].StringValue(), "every public request goes through Kong")
		})
	}
}

func TestGrafanaPasswordIsGeneratedAndSecret(t *testing.T) {
	m, err := run(t, "prod", stackConfig(t, "prod"), nil, platform.Run)
	require.NoError(t, err)
	secret := m.byName(t, "kubernetes:core/v1:Secret", "observability-grafana-admin")
	data := secret.Inputs["stringData"]
	require.True(t, data.IsSecret(), "the Grafana password stays a secret in state")
	pw := data.SecretValue().Element.ObjectValue()["admin-password"].StringValue()
	assert.Len(t, pw, 32)
	obs := m.byName(t, helmChartType, "observability")
	assert.Equal(t, "grafana-admin", get(obs.Inputs, "values.grafana.admin.existingSecret").StringValue(), "the chart reads the password from the Secret, not from values")
}

// allCharts makes a folder holding every chart the platform installs, as empty chart folders.
func allCharts(t *testing.T, skip string) string {
	dir := t.TempDir()
	for _, spec := range platform.Charts() {
		if spec.Name == skip {
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Join(dir, spec.Name+"-"+spec.Version), 0o755))
	}
	return dir
}

func TestChartsComeFromTheConfiguredSource(t *testing.T) {
	dir := allCharts(t, "")
	tests := []struct {
		name, source string
		want         func(spec chart.Spec) (chartRef, version, repo string)
	}{
		{"remote", "remote", func(s chart.Spec) (string, string, string) {
			if strings.HasPrefix(s.Repo, "oci://") {
				// Charts published to an OCI registry are fetched by reference.
				return s.Repo + "/" + s.Name, s.Version, ""
			}
			return s.Name, s.Version, s.Repo
		}},
		{"folder", "dir:" + dir, func(s chart.Spec) (string, string, string) {
			return filepath.Join(dir, s.Name+"-"+s.Version), "", ""
		}},
		{"oci mirror", "oci://mirror.example.com/charts", func(s chart.Spec) (string, string, string) {
			return "oci://mirror.example.com/charts/" + s.Name, s.Version, ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "dev")
			cfg["groundwork:charts"] = `{"source":"` + tt.source + `"}`
			m, err := run(t, "dev", cfg, nil, platform.Run)
			require.NoError(t, err)
			specs := map[string]chart.Spec{}
			for _, s := range platform.Charts() {
				specs[s.Name] = s
			}
			for _, c := range m.ofType(helmChartType) {
				name := map[string]string{
					"observability": "kube-prometheus-stack", "kafka-operator": "strimzi-kafka-operator", "postgres-operator": "cloudnative-pg",
				}[c.Name]
				if name == "" {
					name = strings.TrimPrefix(c.Name, "istio-")
				}
				spec, ok := specs[name]
				require.Truef(t, ok, "chart %s", c.Name)
				ref, version, repo := tt.want(spec)
				assert.Equal(t, ref, get(c.Inputs, "chart").StringValue(), c.Name)
				assert.Equal(t, version, stringOr(get(c.Inputs, "version")), c.Name)
				assert.Equal(t, repo, stringOr(get(c.Inputs, "repo")), c.Name)
			}
		})
	}
}

func stringOr(v resource.PropertyValue) string {
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

func TestMissingChartInFolderFailsBeforeAnyResource(t *testing.T) {
	dir := allCharts(t, "istiod")
	cfg := stackConfig(t, "dev")
	cfg["groundwork:charts"] = `{"source":"dir:` + dir + `"}`
	m, err := run(t, "dev", cfg, nil, platform.Run)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "groundwork:charts.source: chart istiod 1.30.5 is missing from "+dir+
		": want the folder istiod-1.30.5 or the archive istiod-1.30.5.tgz there")
	assert.Equal(t, 1, strings.Count(err.Error(), "is missing from"), "only the missing chart is reported")
	assert.Empty(t, m.resources)
}

func TestImageMirrorRewritesEveryPlatformRegistry(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg["groundwork:images"] = `{"registryMirror":"mirror.example.com/upstream"}`
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)
	assert.Equal(t, "mirror.example.com/upstream/istio", get(m.byName(t, helmChartType, "istio-istiod").Inputs, "values.global.hub").StringValue())
	assert.Equal(t, "mirror.example.com/upstream/istio", get(m.byName(t, helmChartType, "istio-cni").Inputs, "values.global.hub").StringValue())
	kong := m.byName(t, helmChartType, "kong").Inputs
	assert.Equal(t, "mirror.example.com/upstream/library/kong", get(kong, "values.image.repository").StringValue())
	assert.Equal(t, "mirror.example.com/upstream/kong/kubernetes-ingress-controller", get(kong, "values.ingressController.image.repository").StringValue())
	assert.Equal(t, "mirror.example.com/upstream", get(m.byName(t, helmChartType, "observability").Inputs, "values.global.imageRegistry").StringValue())
	assert.Equal(t, "mirror.example.com/upstream", get(m.byName(t, helmChartType, "observability-tempo").Inputs, "values.global.image.registry").StringValue(),
		"prod keeps traces in Tempo: its images and memcached's come from the mirror")

	// Jaeger runs where there is no bucket for traces: dev on OpenStack without an S3 endpoint.
	cfg = stackConfig(t, "dev")
	cfg["groundwork:images"] = `{"registryMirror":"mirror.example.com/upstream"}`
	m, err = run(t, "dev", cfg, nil, platform.Run)
	require.NoError(t, err)
	jaeger := m.byName(t, "kubernetes:apps/v1:Deployment", "observability-jaeger")
	image := get(jaeger.Inputs, "spec.template.spec.containers").ArrayValue()[0].ObjectValue()["image"].StringValue()
	assert.Equal(t, "mirror.example.com/upstream/jaegertracing/jaeger:2.21.0", image)
}

func TestRenderModeNeedsNoClusterOnExisting(t *testing.T) {
	out := filepath.Join(t.TempDir(), "manifests")
	cfg := stackConfig(t, "dev")
	cfg["groundwork:cloud"] = "existing"
	cfg["groundwork:existing"] = `{"nodeCidrs":["10.0.0.0/16"]}`
	setObject(t, cfg, "groundwork:kubernetes", "renderTo", out)
	m, err := run(t, "dev", cfg, nil, platform.Run)
	require.NoError(t, err)
	p := m.byName(t, "pulumi:providers:kubernetes", "groundwork-dev-k8s")
	assert.Equal(t, out, get(p.Inputs, "renderYamlToDirectory").StringValue())
	_, hasKubeconfig := p.Inputs["kubeconfig"]
	assert.False(t, hasKubeconfig, "the provider refuses a kubeconfig together with a render folder")
	assert.NotEmpty(t, m.ofType(helmChartType), "the whole platform is rendered")
}

func TestRenderModeOnACloudRendersTheKubernetesLayer(t *testing.T) {
	out := t.TempDir()
	cfg := stackConfig(t, "prod")
	setObject(t, cfg, "groundwork:kubernetes", "renderTo", out)
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)
	p := m.byName(t, "pulumi:providers:kubernetes", "groundwork-prod-k8s")
	assert.Equal(t, out, get(p.Inputs, "renderYamlToDirectory").StringValue())
	assert.NotEmpty(t, m.ofType("aws:eks/cluster:Cluster"), "the cloud is still built")
}

func TestRenderModeErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	tests := []struct {
		name   string
		change func(c map[string]string)
		secret []string
		want   string
	}{
		{
			name: "folder is a file",
			change: func(c map[string]string) {
				c["groundwork:kubernetes"] = `{"renderTo":"` + file + `"}`
			},
			want: `groundwork:kubernetes.renderTo: "` + file + `" is a file; render mode needs a folder to write manifests into`,
		},
		{
			name: "with a kubeconfig",
			change: func(c map[string]string) {
				c["groundwork:cloud"] = "existing"
				c["groundwork:existing"] = `{"nodeCidrs":["10.0.0.0/16"]}`
				c["groundwork:kubernetes"] = `{"renderTo":"out"}`
				c["groundwork:kubeconfig"] = "apiVersion: v1\n"
			},
			secret: []string{"groundwork:kubeconfig"},
			want:   `groundwork:kubernetes.renderTo: "out" is set together with a kubeconfig: render mode contacts no cluster, so the kubeconfig would be ignored; unset groundwork:kubeconfig and groundwork:existing.kubeconfigPath, or renderTo`,
		},
		{
			name:   "bad chart source",
			change: func(c map[string]string) { c["groundwork:charts"] = `{"source":"https://charts.example.com"}` },
			want:   `groundwork:charts.source: "https://charts.example.com" is not a chart source; allowed: remote, dir:<path>, oci://<registry>/<path>`,
		},
		{
			name:   "bad image mirror",
			change: func(c map[string]string) { c["groundwork:images"] = `{"registryMirror":"https://mirror.example.com"}` },
			want:   `groundwork:images.registryMirror: "https://mirror.example.com" is not a registry host and path without scheme, e.g. "mirror.example.com/upstream"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "dev")
			tt.change(cfg)
			_, err := platform.Parse(source("dev", cfg, tt.secret...))
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestInClusterDatabasesBackUpToTheOpenStackObjectStore(t *testing.T) {
	cfg := stackConfig(t, "prod")
	onOpenStack(t, cfg)
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)
	container := m.byName(t, "openstack:objectstorage/container:Container", "groundwork-prod-backups")
	assert.True(t, get(container.Inputs, "versioning").BoolValue(), "backups are versioned")
	creds := m.byName(t, "kubernetes:core/v1:Secret", "postgres-backup-credentials")
	require.True(t, creds.Inputs["stringData"].IsSecret(), "the object store's keys stay secrets")
	for _, c := range m.ofType("kubernetes:postgresql.cnpg.io/v1:Cluster") {
		store := get(c.Inputs, "spec.backup.barmanObjectStore")
		require.Truef(t, store.IsObject(), "%s backs up", c.Name)
		// One prefix per database cluster, so their WAL archives never mix.
		assert.Equal(t, "s3://groundwork-prod-backups/postgres/"+get(c.Inputs, "metadata.name").StringValue(), store.ObjectValue()["destinationPath"].StringValue())
		assert.Equal(t, "https://object-store.example.com", store.ObjectValue()["endpointURL"].StringValue())
	}
	assert.NotEmpty(t, m.ofType("kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"))
}

func TestProdOnAWSRunsManagedDataStores(t *testing.T) {
	m, err := run(t, "prod", stackConfig(t, "prod"), nil, platform.Run)
	require.NoError(t, err)
	assert.Empty(t, m.ofType("kubernetes:postgresql.cnpg.io/v1:Cluster"))
	rds := m.ofType("aws:rds/instance:Instance")
	require.Len(t, rds, 6, "one database per service that declares one")
	for _, db := range rds {
		assert.True(t, get(db.Inputs, "multiAz").BoolValue(), db.Name)
		assert.True(t, get(db.Inputs, "deletionProtection").BoolValue(), db.Name)
	}
	assert.Len(t, m.ofType("aws:msk/cluster:Cluster"), 1)
	assert.Len(t, m.ofType("aws:elasticache/replicationGroup:ReplicationGroup"), 1)
}

func TestManagedDataStoresNeedNoOperatorCharts(t *testing.T) {
	dir := t.TempDir()
	for _, spec := range platform.Charts() {
		if spec.Name != "strimzi-kafka-operator" && spec.Name != "cloudnative-pg" {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, spec.Name+"-"+spec.Version), 0o755))
		}
	}
	cfg := stackConfig(t, "prod")
	cfg["groundwork:charts"] = `{"source":"dir:` + dir + `"}`
	_, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err, "prod on aws runs MSK and RDS: their operators' charts are not needed")
	onOpenStack(t, cfg)
	_, err = run(t, "prod", cfg, nil, platform.Run)
	require.ErrorContains(t, err, "chart strimzi-kafka-operator 1.2.0 is missing from "+dir)
}

func TestLogAggregationIsOptional(t *testing.T) {
	m, err := run(t, "dev", stackConfig(t, "dev"), nil, platform.Run)
	require.NoError(t, err)
	for _, c := range m.ofType(helmChartType) {
		assert.NotContains(t, []string{"observability-loki", "observability-alloy"}, c.Name, "off unless asked for")
	}

	// Dev on OpenStack without an S3 endpoint: one Loki on a volume.
	cfg := stackConfig(t, "dev")
	cfg["groundwork:observability"] = `{"logs":true}`
	cfg["groundwork:images"] = `{"registryMirror":"mirror.example.com/upstream"}`
	m, err = run(t, "dev", cfg, nil, platform.Run)
	require.NoError(t, err)
	loki := m.byName(t, helmChartType, "observability-loki")
	assert.Equal(t, "6.47.0", get(loki.Inputs, "version").StringValue())
	assert.Equal(t, "SingleBinary", get(loki.Inputs, "values.deploymentMode").StringValue())
	assert.Equal(t, "168h", get(loki.Inputs, "values.loki.limits_config.retention_period").StringValue(), "dev keeps 7 days")
	assert.Equal(t, "filesystem", get(loki.Inputs, "values.loki.storage.type").StringValue())
	assert.Equal(t, "cinder", get(loki.Inputs, "values.singleBinary.persistence.storageClass").StringValue())
	for _, c := range []string{"write", "read", "backend"} {
		assert.Equal(t, 0.0, get(loki.Inputs, "values."+c+".replicas").NumberValue(), "the chart refuses single binary and %s together", c)
	}
	assert.Equal(t, "mirror.example.com/upstream", get(loki.Inputs, "values.global.imageRegistry").StringValue())
	alloy := m.byName(t, helmChartType, "observability-alloy")
	assert.True(t, m.waitsFor(alloy, loki), "the collector starts after the store")
	assert.Contains(t, get(alloy.Inputs, "values.alloy.configMap.content").StringValue(), `url = "http://loki.monitoring.svc.cluster.local:3100/loki/api/v1/push"`)
	assert.Equal(t, "1.6.0", get(alloy.Inputs, "version").StringValue())
	assert.Equal(t, "mirror.example.com/upstream", get(alloy.Inputs, "values.global.image.registry").StringValue())
	assert.Equal(t, "mirror.example.com/upstream", get(alloy.Inputs, "values.configReloader.image.registry").StringValue(), "quay.io's reloader comes from the mirror too")
	assert.False(t, get(alloy.Inputs, "values.alloy.enableReporting").BoolValue())
	// The pack's container-security-context holds chart objects in prod: Alloy's defaults ({})
	// would fail it.
	for _, path := range []string{"values.alloy.securityContext", "values.configReloader.securityContext"} {
		sc := get(alloy.Inputs, path)
		assert.True(t, get(sc.ObjectValue(), "runAsNonRoot").BoolValue(), path)
		assert.True(t, get(sc.ObjectValue(), "readOnlyRootFilesystem").BoolValue(), path)
		assert.False(t, get(sc.ObjectValue(), "allowPrivilegeEscalation").BoolValue(), path)
	}
	assert.Equal(t, "/tmp/alloy", get(alloy.Inputs, "values.alloy.mounts.extra").ArrayValue()[0].ObjectValue()["mountPath"].StringValue(),
		"a read-only root needs a writable volume where Alloy keeps its positions")
	var sources []string
	for _, d := range get(m.byName(t, helmChartType, "observability").Inputs, "values.grafana.additionalDataSources").ArrayValue() {
		sources = append(sources, d.ObjectValue()["name"].StringValue())
	}
	assert.ElementsMatch(t, []string{"Jaeger", "Loki"}, sources)

	cfg["groundwork:observability"] = `{"logs":true,"logRetentionDays":0}`
	_, err = platform.Parse(source("prod", cfg))
	require.NoError(t, err, "0 means the default")
	cfg["groundwork:observability"] = `{"logs":true,"logRetentionDays":400}`
	_, err = platform.Parse(source("prod", cfg))
	require.EqualError(t, err, "groundwork:observability.logRetentionDays: 400 is out of range; allowed 1 to 365")
}

// Network policies add up: a namespace-wide allow in the services namespace would let every
// service call every other, whatever each service's own policy says.
func TestServicesNamespaceHasNoBlanketAllow(t *testing.T) {
	m, err := run(t, "prod", stackConfig(t, "prod"), nil, platform.Run)
	require.NoError(t, err)
	var inServices []string
	for _, np := range m.ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy") {
		if get(np.Inputs, "metadata.namespace").StringValue() == "services" {
			inServices = append(inServices, get(np.Inputs, "metadata.name").StringValue())
		}
	}
	assert.ElementsMatch(t, append([]string{"default-deny"}, theServices...), inServices)
	m.byName(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "ns-kong-allow")
}

func TestTopicRetentionComesFromServiceYAMLOrTheStack(t *testing.T) {
	m, err := run(t, "dev", stackConfig(t, "dev"), nil, platform.Run)
	require.NoError(t, err)
	retention := func(topic string) time.Duration {
		r := m.byName(t, "kubernetes:kafka.strimzi.io/v1:KafkaTopic", "kafka-topic-"+topic)
		return time.Duration(get(r.Inputs, "spec.config").ObjectValue()["retention.ms"].NumberValue()) * time.Millisecond
	}
	assert.Equal(t, 24*time.Hour, retention("user.events"), "dev keeps events a day")
	assert.Equal(t, 30*24*time.Hour, retention("user.outbox-relay"), "services/user/service.yaml keeps the relay's progress 30 days")
}
