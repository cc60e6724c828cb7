package tests

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/components/kong"
	"github.com/groundwork/groundwork/components/microservice"
	"github.com/groundwork/groundwork/platform"
	"github.com/groundwork/groundwork/policy/rules"
	"github.com/groundwork/groundwork/services/slo"
)

// identityArgs are realistic args for the identity service in prod.
func identityArgs(gw *kong.Kong) microservice.Args {
	return microservice.Args{
		Name: "identity", Namespace: "services",
		Image: pulumi.String("123456789012.dkr.ecr.eu-west-1.amazonaws.com/groundwork-prod/identity:sha-3f9c2a1b7d4e"),
		Port:  8080, MetricsPort: 9090,
		Scale:     microservice.Scale{Min: 3, Max: 12},
		CPUTarget: 70, MemoryTarget: 80,
		Resources: microservice.Resources{RequestCPU: "250m", RequestMemory: "256Mi", LimitCPU: "1", LimitMemory: "512Mi"},
		Env:       map[string]string{"LOG_LEVEL": "info", "KAFKA_TOPIC_PREFIX": "identity"},
		SecretEnv: []microservice.SecretEnv{
			{Name: "DATABASE_URL", Secret: pulumi.String("identity-db"), Key: "uri"},
			{Name: "KAFKA_PASSWORD", Secret: pulumi.String("identity-kafka"), Key: "password"},
		},
		Zones:            []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"},
		GatewayNamespace: "kong", MonitoringNamespace: "monitoring",
		Callers: []string{"user", "tenant"},
		Egress: []microservice.Peer{
			{Namespace: "databases", PodLabels: map[string]string{"cnpg.io/cluster": "identity"}, Ports: []int{5432}},
			{Namespace: "kafka", Ports: []int{9093}},
		},
		Routes: []microservice.Route{
			{Paths: []string{"/v1/auth"}, Plugins: []kong.Plugin{kong.RateLimiting{Minute: 60, Policy: "local"}}},
			{Paths: []string{"/v1/users/me"}, Plugins: []kong.Plugin{kong.JWT{ClaimsToVerify: []string{"exp"}, KeyClaimName: "iss"}}},
		},
		Kong:    gw,
		Timeout: "5s", Retries: 2,
		Canary:     &microservice.Canary{Image: pulumi.String("123456789012.dkr.ecr.eu-west-1.amazonaws.com/groundwork-prod/identity:sha-9a8b7c6d5e4f"), Weight: 10},
		SLO:        slo.Default,
		Outbox:     true,
		Consumers:  true,
		Database:   true,
		RunbookURL: "https://github.com/groundwork/groundwork/blob/main/platform/RUNBOOKS.md",
		Labels:     map[string]string{"app.kubernetes.io/part-of": "groundwork"},
	}
}

func deployIdentity(t *testing.T, change func(*microservice.Args)) (*mocks, error) {
	return runComponent(t, func(ctx *pulumi.Context, k8s pulumi.ResourceOption) error {
		gw, err := kong.New(ctx, "kong", kong.Args{Namespace: "kong", Charts: forTestCluster(chart.Remote), Scale: kong.Scale{Min: 1, Max: 2}}, k8s)
		if err != nil {
			return err
		}
		args := identityArgs(gw)
		if change != nil {
			change(&args)
		}
		_, err = microservice.New(ctx, "svc-identity", args, k8s)
		return err
	})
}

func TestMicroserviceWorkloadIsHardenedAndObservable(t *testing.T) {
	m, err := deployIdentity(t, nil)
	require.NoError(t, err)

	dep := m.byName(t, "kubernetes:apps/v1:Deployment", "svc-identity-stable")
	in := dep.Inputs
	assert.Equal(t, 3.0, get(in, "spec.replicas").NumberValue())
	assert.Equal(t, 0.0, get(in, "spec.strategy.rollingUpdate.maxUnavailable").NumberValue(), "rollouts never lose capacity")
	pod := get(in, "spec.template.spec").ObjectValue()
	assert.True(t, pod["securityContext"].ObjectValue()["runAsNonRoot"].BoolValue())
	c := pod["containers"].ArrayValue()[0].ObjectValue()
	sc := c["securityContext"].ObjectValue()
	assert.True(t, sc["readOnlyRootFilesystem"].BoolValue())
	assert.False(t, sc["allowPrivilegeEscalation"].BoolValue())
	assert.Equal(t, []string{"ALL"}, strs(sc["capabilities"].ObjectValue()["drop"]))
	for _, p := range []string{"startupProbe", "livenessProbe", "readinessProbe"} {
		assert.Truef(t, c[resource.PropertyKey(p)].IsObject(), "%s is set", p)
	}
	assert.Equal(t, "/readyz", c["readinessProbe"].ObjectValue()["httpGet"].ObjectValue()["path"].StringValue())
	assert.Equal(t, "512Mi", c["resources"].ObjectValue()["limits"].ObjectValue()["memory"].StringValue())
	var zoneSpread bool
	for _, tsc := range pod["topologySpreadConstraints"].ArrayValue() {
		zoneSpread = zoneSpread || tsc.ObjectValue()["topologyKey"].StringValue() == "topology.kubernetes.io/zone"
	}
	assert.True(t, zoneSpread, "replicas spread over the zones")
	var fromSecret []string
	for _, e := range c["env"].ArrayValue() {
		if vf := e.ObjectValue()["valueFrom"]; vf.IsObject() {
			fromSecret = append(fromSecret, e.ObjectValue()["name"].StringValue())
		}
	}
	assert.ElementsMatch(t, []string{"DATABASE_URL", "KAFKA_PASSWORD"}, fromSecret, "credentials come from Secrets, not values")

	hpa := m.byName(t, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "svc-identity")
	assert.Equal(t, 3.0, get(hpa.Inputs, "spec.minReplicas").NumberValue())
	assert.Equal(t, 12.0, get(hpa.Inputs, "spec.maxReplicas").NumberValue())
	assert.Len(t, get(hpa.Inputs, "spec.metrics").ArrayValue(), 2, "CPU and memory")
	m.byName(t, "kubernetes:policy/v1:PodDisruptionBudget", "svc-identity")
	m.byName(t, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "svc-identity-metrics")

	// Every object the component makes matches its upstream API.
	for _, r := range m.kubernetesObjects() {
		if newObj, ok := builtIn[r.Type]; ok {
			strictDecode(t, r, newObj())
		}
	}
	checkCustomResources(t, m, "kubernetes:configuration.konghq.com/v1:KongPlugin")
}

func TestMicroserviceNetworkPolicyAdmitsOnlyGatewayCallersAndMonitoring(t *testing.T) {
	m, err := deployIdentity(t, nil)
	require.NoError(t, err)
	np := m.byName(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "svc-identity")
	ingress := get(np.Inputs, "spec.ingress").ArrayValue()
	require.Len(t, ingress, 2)
	api := ingress[0].ObjectValue()
	var from []string
	for _, f := range api["from"].ArrayValue() {
		o := f.ObjectValue()
		if ns := o["namespaceSelector"]; ns.IsObject() {
			from = append(from, "ns:"+ns.ObjectValue()["matchLabels"].ObjectValue()["kubernetes.io/metadata.name"].StringValue())
		}
		if ps := o["podSelector"]; ps.IsObject() {
			from = append(from, "app:"+ps.ObjectValue()["matchLabels"].ObjectValue()["app.kubernetes.io/name"].StringValue())
		}
	}
	assert.ElementsMatch(t, []string{"ns:kong", "app:user", "app:tenant"}, from)
	assert.Equal(t, 8080.0, api["ports"].ArrayValue()[0].ObjectValue()["port"].NumberValue())
	var scraped []float64
	for _, p := range ingress[1].ObjectValue()["ports"].ArrayValue() {
		scraped = append(scraped, p.ObjectValue()["port"].NumberValue())
	}
	assert.Equal(t, []float64{9090, 15090}, scraped, "Prometheus reaches the service's metrics and its sidecar's")
	assert.Equal(t, []string{"Ingress", "Egress"}, strs(get(np.Inputs, "spec.policyTypes")))
	assert.Len(t, get(np.Inputs, "spec.egress").ArrayValue(), 4, "DNS, istiod, the database and Kafka")
}

func TestMicroserviceMeshRoutingSplitsCanaryTraffic(t *testing.T) {
	m, err := deployIdentity(t, nil)
	require.NoError(t, err)
	canary := m.byName(t, "kubernetes:apps/v1:Deployment", "svc-identity-canary")
	assert.Contains(t, get(canary.Inputs, "spec.template.spec.containers").ArrayValue()[0].ObjectValue()["image"].StringValue(), "sha-9a8b7c6d5e4f")
	vs := m.byName(t, "kubernetes:networking.istio.io/v1:VirtualService", "svc-identity-routing")
	http := get(vs.Inputs, "spec.http").ArrayValue()[0].ObjectValue()
	var weights []float64
	for _, r := range http["route"].ArrayValue() {
		weights = append(weights, r.ObjectValue()["weight"].NumberValue())
	}
	assert.Equal(t, []float64{90, 10}, weights)
	assert.Equal(t, "5s", http["timeout"].StringValue())
	assert.Equal(t, 2.0, http["retries"].ObjectValue()["attempts"].NumberValue())
	dr := m.byName(t, "kubernetes:networking.istio.io/v1:DestinationRule", "svc-identity-destination")
	assert.Equal(t, 5.0, get(dr.Inputs, "spec.trafficPolicy.outlierDetection.consecutive5xxErrors").NumberValue())
	assert.Len(t, get(dr.Inputs, "spec.subsets").ArrayValue(), 2)

	// Each public route is an Ingress of class kong naming its own plugins.
	auth := m.byName(t, "kubernetes:networking.k8s.io/v1:Ingress", "svc-identity-route-v1-auth")
	assert.Equal(t, "kong", get(auth.Inputs, "spec.ingressClassName").StringValue())
	assert.Equal(t, "identity-v1-auth-rate-limiting", get(auth.Inputs, "metadata.annotations").ObjectValue()["konghq.com/plugins"].StringValue())
	me := m.byName(t, "kubernetes:networking.k8s.io/v1:Ingress", "svc-identity-route-v1-users-me")
	assert.Equal(t, "identity-v1-users-me-jwt", get(me.Inputs, "metadata.annotations").ObjectValue()["konghq.com/plugins"].StringValue())
}

func TestMicroserviceRejectsBadArgs(t *testing.T) {
	tests := []struct {
		name   string
		change func(*microservice.Args)
		want   string
	}{
		{"same port for metrics", func(a *microservice.Args) { a.MetricsPort = a.Port },
			"microservice identity: metricsPort 8080 equals port: metrics are scraped in plain text outside the mesh, the API is served with mTLS"},
		{"no room to scale", func(a *microservice.Args) { a.Scale = microservice.Scale{Min: 2, Max: 2} },
			"microservice identity: scale 2..2: want 1 <= min < max, so the autoscaler can act"},
		{"privileged port", func(a *microservice.Args) { a.Port = 80 },
			"microservice identity: port 80: want an unprivileged port, 1024-65535 (containers run as non-root)"},
		{"bad quantity", func(a *microservice.Args) { a.Resources.LimitMemory = "512MB" },
			`microservice identity: resources limits.memory "512MB" is not a Kubernetes quantity like 250m or 256Mi`},
		{"canary weight", func(a *microservice.Args) { a.Canary.Weight = 101 },
			"microservice identity: canary needs an image and a weight of 0-100 percent, got 101"},
		{"duplicate route", func(a *microservice.Args) { a.Routes[1].Paths = []string{"/v1/auth"} },
			`microservice identity: two routes start with the path "/v1/auth"; give each route its own first path`},
		{"bad plugin", func(a *microservice.Args) { a.Routes[0].Plugins = []kong.Plugin{kong.RateLimiting{Policy: "cluster"}} },
			"microservice identity: route /v1/auth: rate-limiting: set at least one of Second, Minute, Hour\nrate-limiting: policy \"cluster\" is not allowed; allowed: local, redis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := deployIdentity(t, tt.change)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			for _, d := range m.ofType("kubernetes:apps/v1:Deployment") {
				assert.True(t, rules.RenderedByChart(d.URN), "nothing of the service is deployed: %s", d.Name)
			}
		})
	}
}

// theServices are the folders of services/.
var theServices = []string{"analytics", "identity", "notification", "subscription", "tenant", "user"}

func TestEveryServiceIsDeployedOnEveryStack(t *testing.T) {
	for _, tt := range stackCases {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, tt.stack, tt.config(t), nil, platform.Run)
			require.NoError(t, err)
			for _, svc := range theServices {
				for _, kind := range []string{
					"kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
					"kubernetes:policy/v1:PodDisruptionBudget", "kubernetes:networking.k8s.io/v1:NetworkPolicy",
					"kubernetes:networking.istio.io/v1:VirtualService", "kubernetes:networking.istio.io/v1:DestinationRule",
				} {
					found := false
					for _, r := range m.ofType(kind) {
						found = found || get(r.Inputs, "metadata.name").StringValue() == svc
					}
					assert.Truef(t, found, "%s has a %s", svc, kind)
				}
			}
			// Every service reads its credentials from Secrets: its database (when it has one)
			// and its Kafka user.
			dep := m.byName(t, "kubernetes:apps/v1:Deployment", "svc-identity-stable")
			var fromSecret []string
			for _, e := range get(dep.Inputs, "spec.template.spec.containers").ArrayValue()[0].ObjectValue()["env"].ArrayValue() {
				if e.ObjectValue()["valueFrom"].IsObject() {
					fromSecret = append(fromSecret, e.ObjectValue()["name"].StringValue())
				}
			}
			assert.Subset(t, fromSecret, []string{"DATABASE_URL", "KAFKA_BROKERS", "KAFKA_PASSWORD", "JWT_SIGNING_KEY", "REDIS_URL"})
		})
	}
}

func TestAddingAServiceFolderDeploysIt(t *testing.T) {
	cfg := stackConfig(t, "dev")
	cfg["groundwork:servicesDir"] = tempServices(t, "billing")
	cfg["groundwork:images"] = `{"version":"v0.1.0"}`
	m, err := run(t, "dev", cfg, nil, platform.Run)
	require.NoError(t, err)
	dep := m.byName(t, "kubernetes:apps/v1:Deployment", "svc-billing-stable")
	image := get(dep.Inputs, "spec.template.spec.containers").ArrayValue()[0].ObjectValue()["image"].StringValue()
	assert.Equal(t, "registry.dev.example.com/groundwork/billing:v0.1.0", image)
	m.byName(t, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "svc-billing")
	assert.Empty(t, m.ofType("kubernetes:postgresql.cnpg.io/v1:Cluster"), "a service without a database gets none")
}

// TestCallbackSigningKeyIsAGeneratedSecretOfTheServicesThatNeedIt: the key that signs the
// payment and delivery callbacks is generated per stack, reaches exactly the services that list
// CALLBACK_SIGNING_KEY through a Kubernetes Secret, and is a Pulumi secret everywhere it is an
// input: never in plaintext in the state.
func TestCallbackSigningKeyIsAGeneratedSecretOfTheServicesThatNeedIt(t *testing.T) {
	m, err := run(t, "dev", stackConfig(t, "dev"), nil, platform.Run)
	require.NoError(t, err)
	pw := m.byName(t, "random:index/randomPassword:RandomPassword", "callback-signing")
	assert.Equal(t, 64.0, propNum(pw.Inputs["length"]), "64 characters")
	key := propStr(pw.Outputs["result"])
	require.GreaterOrEqual(t, len(key), 32, "at least the chassis's minimum of 32 bytes")

	for _, svc := range theServices {
		dep := m.byName(t, "kubernetes:apps/v1:Deployment", "svc-"+svc+"-stable")
		ref := ""
		for _, e := range get(dep.Inputs, "spec.template.spec.containers").ArrayValue()[0].ObjectValue()["env"].ArrayValue() {
			if e.ObjectValue()["name"].StringValue() == "CALLBACK_SIGNING_KEY" {
				ref = propStr(get(e.ObjectValue(), "valueFrom.secretKeyRef.name")) + "/" + propStr(get(e.ObjectValue(), "valueFrom.secretKeyRef.key"))
				assert.False(t, e.ObjectValue()["value"].IsString(), "%s: the key is never a plain env value", svc)
			}
		}
		if svc != "subscription" && svc != "notification" {
			assert.Empty(t, ref, "%s does not receive callbacks and must not get the key", svc)
			continue
		}
		assert.Equal(t, svc+"-callback/signing-key", ref, "%s reads the key from its Secret", svc)
		sec := m.byName(t, "kubernetes:core/v1:Secret", "svc-"+svc+"-callback")
		assert.True(t, inputIsSecret(sec.Inputs, "stringData.signing-key"), "%s: the Secret's value is a Pulumi secret", svc)
		assert.Equal(t, key, propStr(get(sec.Inputs, "stringData.signing-key")), "%s: the generated key", svc)
	}
	assertNoPlaintext(t, m, []string{key})
}
