package tests

import (
	"maps"
	"testing"

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
