package tests

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/components/microservice"
	"github.com/groundwork/groundwork/platform"
)

// objectMap turns an object property into plain strings (labels, selectors, annotations).
func objectMap(v resource.PropertyValue) map[string]string {
	out := map[string]string{}
	if !v.IsObject() {
		return out
	}
	for k, e := range v.ObjectValue() {
		if e.IsString() {
			out[string(k)] = e.StringValue()
		}
	}
	return out
}

// arr is an array property's elements; nothing where the property is absent.
func arr(v resource.PropertyValue) []resource.PropertyValue {
	if !v.IsArray() {
		return nil
	}
	return v.ArrayValue()
}

// Kong sends requests to each Service's cluster IP with the Service's host, so the sidecar's
// routing (the VirtualService: retries, timeouts, canary weights) applies to them.
func TestKongRoutesThroughTheMeshToEveryService(t *testing.T) {
	m, err := run(t, "prod", stackConfig(t, "prod"), nil, platform.Run)
	require.NoError(t, err)
	routed := map[string]bool{}
	for _, ing := range m.ofType("kubernetes:networking.k8s.io/v1:Ingress") {
		assert.Equal(t, "false", objectMap(get(ing.Inputs, "metadata.annotations"))["konghq.com/preserve-host"],
			"%s: the upstream Host must be the Service's, which its VirtualService matches", ing.Name)
		for _, rule := range arr(get(ing.Inputs, "spec.rules")) {
			for _, p := range arr(get(rule.ObjectValue(), "http.paths")) {
				routed[get(p.ObjectValue(), "backend.service.name").StringValue()] = true
			}
		}
	}
	require.NotEmpty(t, routed)
	for svc := range routed {
		s := m.byName(t, "kubernetes:core/v1:Service", "svc-"+svc)
		ann := objectMap(get(s.Inputs, "metadata.annotations"))
		assert.Equal(t, "true", ann[microservice.AnnotationServiceUpstream], "%s: Kong targets the Service, not pod IPs", svc)
		host := svc + ".services.svc.cluster.local"
		assert.Equal(t, host, ann[microservice.AnnotationHostHeader], svc)
		vs := m.byName(t, "kubernetes:networking.istio.io/v1:VirtualService", "svc-"+svc+"-routing")
		assert.Equal(t, []string{host}, strs(get(vs.Inputs, "spec.hosts")), "the host Kong sends is the one the VirtualService routes")
	}
}

// Each service's network policy lets its sidecar's spans reach the trace store the stack runs:
// Tempo's distributors with object storage, Jaeger without.
func TestTraceEgressReachesTheStacksTraceStore(t *testing.T) {
	for _, tt := range stackCases {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, tt.stack, tt.config(t), nil, platform.Run)
			require.NoError(t, err)
			var store map[string]string
			tempo := false
			for _, c := range m.ofType(helmChartType) {
				tempo = tempo || c.Name == "observability-tempo"
			}
			if tempo {
				// tempo-distributed's selector labels (templates/_helpers.tpl) for the distributor.
				store = map[string]string{"app.kubernetes.io/name": "tempo", "app.kubernetes.io/instance": "tempo", "app.kubernetes.io/component": "distributor"}
				assert.NotContains(t, names(m.ofType("kubernetes:apps/v1:Deployment")), "observability-jaeger", "no Jaeger where Tempo runs")
			} else {
				jaeger := m.byName(t, "kubernetes:apps/v1:Deployment", "observability-jaeger")
				store = objectMap(get(jaeger.Inputs, "spec.template.metadata.labels"))
			}
			assert.Equal(t, tt.stack == "prod" || tt.cloud == platform.CloudAWS, tempo, "prod and AWS keep traces in Tempo")
			for _, svc := range theServices {
				np := m.byName(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "svc-"+svc)
				found := false
				for _, rule := range arr(get(np.Inputs, "spec.egress")) {
					for _, to := range arr(get(rule.ObjectValue(), "to")) {
						sel := objectMap(get(to.ObjectValue(), "podSelector.matchLabels"))
						ns := objectMap(get(to.ObjectValue(), "namespaceSelector.matchLabels"))
						if ns["kubernetes.io/metadata.name"] != "monitoring" || len(sel) == 0 {
							continue
						}
						// The selector matches the store's pods: every label it asks for, they carry.
						matches := true
						for k, v := range sel {
							matches = matches && store[k] == v
						}
						var ports []float64
						for _, p := range arr(get(rule.ObjectValue(), "ports")) {
							ports = append(ports, get(p.ObjectValue(), "port").NumberValue())
						}
						if matches && assert.ElementsMatch(t, []float64{4317, 4318}, ports, svc) {
							found = true
						}
						if tempo {
							assert.True(t, maps.Equal(sel, store), "%s: the selector is exactly the distributors'", svc)
						}
					}
				}
				assert.True(t, found, "%s: trace egress to the store's pods", svc)
			}
		})
	}
}

// A canary set in the stack's config runs beside the stable version, and the service's
// VirtualService splits the requests by its weight.
func TestCanaryFromConfigReachesTheVirtualService(t *testing.T) {
	for _, weight := range []int{0, 25, 100} {
		cfg := stackConfig(t, "prod")
		cfg["groundwork:services"] = fmt.Sprintf(`{"user":{"canary":{"version":"sha-9a8b7c6d5e4f","weight":%d}}}`, weight)
		cfg["groundwork:images"] = `{"version":"v1.4.2"}`
		m, err := run(t, "prod", cfg, nil, platform.Run)
		require.NoError(t, err)

		canary := m.byName(t, "kubernetes:apps/v1:Deployment", "svc-user-canary")
		c := arr(get(canary.Inputs, "spec.template.spec.containers"))[0].ObjectValue()
		assert.True(t, strings.HasSuffix(c["image"].StringValue(), "/user:sha-9a8b7c6d5e4f"), c["image"].StringValue())
		assert.Equal(t, "canary", objectMap(get(canary.Inputs, "spec.template.metadata.labels"))["groundwork.io/track"])

		vs := m.byName(t, "kubernetes:networking.istio.io/v1:VirtualService", "svc-user-routing")
		weights := map[string]float64{}
		for _, r := range arr(get(arr(get(vs.Inputs, "spec.http"))[0].ObjectValue(), "route")) {
			weights[get(r.ObjectValue(), "destination.subset").StringValue()] = get(r.ObjectValue(), "weight").NumberValue()
		}
		assert.Equal(t, map[string]float64{"stable": float64(100 - weight), "canary": float64(weight)}, weights)
		dr := m.byName(t, "kubernetes:networking.istio.io/v1:DestinationRule", "svc-user-destination")
		var subsets []string
		for _, s := range arr(get(dr.Inputs, "spec.subsets")) {
			subsets = append(subsets, get(s.ObjectValue(), "name").StringValue()+"="+objectMap(get(s.ObjectValue(), "labels"))["groundwork.io/track"])
		}
		assert.ElementsMatch(t, []string{"stable=stable", "canary=canary"}, subsets)

		// Only the service named gets one.
		assert.NotContains(t, names(m.ofType("kubernetes:apps/v1:Deployment")), "svc-identity-canary")
	}
}

func TestCanaryConfigErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, give, want string
	}{
		{"weight above 100", `{"user":{"canary":{"version":"v2","weight":150}}}`,
			"groundwork:services.user.canary.weight: 150 is out of range; allowed 0 to 100 (percent of requests)"},
		{"negative weight", `{"user":{"canary":{"version":"v2","weight":-1}}}`,
			"groundwork:services.user.canary.weight: -1 is out of range; allowed 0 to 100 (percent of requests)"},
		{"no weight", `{"user":{"canary":{"version":"v2"}}}`,
			"groundwork:services.user.canary.weight: required: the percentage of requests the canary gets, 0 to 100"},
		{"no version", `{"user":{"canary":{"weight":10}}}`,
			"groundwork:services.user.canary.version: required: the canary's image tag or sha256 digest"},
		{"latest", `{"user":{"canary":{"version":"latest","weight":10}}}`,
			`groundwork:services.user.canary.version: image version "latest": pin a tag or a digest; latest is never deployed`},
		{"unknown field", `{"user":{"canary":{"version":"v2","wieght":10}}}`,
			`groundwork:services: unknown field "wieght"`},
		{"no such service", `{"billing":{"canary":{"version":"v2","weight":10}}}`,
			`groundwork:services.billing: no service "billing" in services; services: analytics, identity, notification, subscription, tenant, user`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "prod")
			cfg["groundwork:services"] = tt.give
			m, err := run(t, "prod", cfg, nil, platform.Run)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, m.resources, "nothing is created")
		})
	}
}

func TestLogsAreOnInProdAndOffInDevByDefault(t *testing.T) {
	for _, tt := range []struct {
		stack, give string
		want        bool
	}{
		{"dev", "", false},
		{"prod", "", true},
		{"prod", `{"logs":false}`, false},
		{"dev", `{"logs":true}`, true},
	} {
		cfg := stackConfig(t, tt.stack)
		if tt.give != "" {
			cfg["groundwork:observability"] = tt.give
		}
		c, err := platform.Parse(source(tt.stack, cfg))
		require.NoError(t, err)
		require.NotNil(t, c.Observability.Logs)
		assert.Equal(t, tt.want, *c.Observability.Logs, "%s %s", tt.stack, tt.give)
	}
	m, err := run(t, "prod", stackConfig(t, "prod"), nil, platform.Run)
	require.NoError(t, err)
	loki := m.byName(t, helmChartType, "observability-loki")
	assert.Equal(t, "SimpleScalable", get(loki.Inputs, "values.deploymentMode").StringValue(), "HA Loki on the logs bucket")
	assert.Equal(t, "720h", get(loki.Inputs, "values.loki.limits_config.retention_period").StringValue(), "prod keeps 30 days")
}

func TestMicroserviceRejectsAnUnmeasurableSLOAndAMissingRunbook(t *testing.T) {
	tests := []struct {
		name   string
		change func(*microservice.Args)
		want   string
	}{
		{"latency between buckets", func(a *microservice.Args) { a.SLO.LatencyP99 = 120 * time.Millisecond },
			"microservice identity: slo latencyP99: 120ms is not a bucket bound of Istio's request-duration histogram"},
		{"no error budget", func(a *microservice.Args) { a.SLO.Availability = 100 },
			"microservice identity: slo availability: 100% is out of range; allowed 90 to 99.999"},
		{"no runbooks", func(a *microservice.Args) { a.RunbookURL = "" },
			`microservice identity: runbookURL "": want the http(s) URL of the runbooks file, without a #section`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := deployIdentity(t, tt.change)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, m.ofType(prometheusRuleType), "nothing is created")
		})
	}
}
