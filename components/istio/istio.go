// Package istio installs the Istio service mesh from its official Helm charts (base, cni,
// istiod, gateway, in that order), with mutual TLS required mesh-wide, access logs and traces
// sent to the observability stack, and an ingress gateway that hands all traffic to the API
// gateway inside the mesh.
package istio

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
)

// Version is the Istio release every chart and image tracks: Istio 1.30, patch 1.30.5.
const Version = "1.30.5"

const repo = "https://istio-release.storage.googleapis.com/charts"

// The charts, in install order.
var (
	Base    = chart.Spec{Name: "base", Version: Version, Repo: repo}
	CNI     = chart.Spec{Name: "cni", Version: Version, Repo: repo}
	Istiod  = chart.Spec{Name: "istiod", Version: Version, Repo: repo}
	Gateway = chart.Spec{Name: "gateway", Version: Version, Repo: repo}
	// Charts lists every chart the component installs.
	Charts = []chart.Spec{Base, CNI, Istiod, Gateway}
)

// upstreamHub is where Istio publishes its images.
const upstreamHub = "docker.io/istio"

// GatewayName is the ingress gateway's release name; its pods carry istio=ingressgateway.
const GatewayName = "istio-ingressgateway"

// TLSTerminationAnnotation on the public Gateway, valued TLSTerminationLoadBalancer, declares
// that its HTTP server on 443 sits behind a load balancer that terminates TLS. The policy pack
// reads it (policy/rules, tlsTerminationAnnotation) and checks the claim against the
// LoadBalancer Service that selects the gateway's pods.
const (
	TLSTerminationAnnotation   = "groundwork.io/tls-termination"
	TLSTerminationLoadBalancer = "load-balancer"
)

// Scale bounds the replicas of a deployment; its HPA moves between them.
type Scale struct {
	Min, Max int
}

// Args configures the mesh.
type Args struct {
	// SystemNamespace holds istiod and the mesh-wide policies (the root namespace).
	SystemNamespace string
	// GatewayNamespace holds the ingress gateway.
	GatewayNamespace string
	// CNINamespace holds the CNI node agent, which needs host access (kube-system).
	CNINamespace string
	Charts       chart.Source
	// ImageMirror replaces docker.io for every Istio image. Optional.
	ImageMirror string
	Istiod      Scale
	Gateway     Scale
	// Zones spread replicas across zones when there are two or more.
	Zones []string
	// LoadBalancerAnnotations go on the ingress gateway's Service (the cloud's load balancer).
	LoadBalancerAnnotations pulumi.StringMapInput
	// TracingHost and TracingPort are the OTLP/gRPC endpoint traces are exported to.
	TracingHost string
	TracingPort int
	// TraceSampling is the percentage of requests traced (0-100].
	TraceSampling float64
	// UpstreamHost and UpstreamPort receive every request the gateway accepts (the API gateway).
	UpstreamHost string
	UpstreamPort int
	// Edge serves HTTPS for a domain. Optional: without it the gateway serves plain HTTP on
	// port 80 for any host.
	Edge *Edge
	// Labels go on every object the component creates (ownership labels).
	Labels map[string]string
	// After are resources every object of the mesh waits for, e.g. its namespaces. A
	// component's own dependencies do not reach its children, so they are passed here.
	After []pulumi.Resource
}

func (a Args) validate() error {
	var errs []error
	for field, ns := range map[string]string{"SystemNamespace": a.SystemNamespace, "GatewayNamespace": a.GatewayNamespace, "CNINamespace": a.CNINamespace} {
		if ns == "" {
			errs = append(errs, fmt.Errorf("istio: %s is required", field))
		}
	}
	for field, s := range map[string]Scale{"Istiod": a.Istiod, "Gateway": a.Gateway} {
		if s.Min < 1 || s.Max < s.Min {
			errs = append(errs, fmt.Errorf("istio: %s scale %d..%d: want 1 <= min <= max", field, s.Min, s.Max))
		}
	}
	if a.TracingHost == "" || a.TracingPort < 1 || a.TracingPort > 65535 {
		errs = append(errs, fmt.Errorf("istio: tracing endpoint %q:%d: want a host and a port", a.TracingHost, a.TracingPort))
	}
	if a.TraceSampling <= 0 || a.TraceSampling > 100 {
		errs = append(errs, fmt.Errorf("istio: TraceSampling %v: want a percentage in (0, 100]", a.TraceSampling))
	}
	if a.UpstreamHost == "" || a.UpstreamPort < 1 || a.UpstreamPort > 65535 {
		errs = append(errs, fmt.Errorf("istio: upstream %q:%d: want a host and a port", a.UpstreamHost, a.UpstreamPort))
	}
	if a.LoadBalancerAnnotations == nil {
		errs = append(errs, errors.New("istio: LoadBalancerAnnotations is required (may be empty)"))
	}
	errs = append(errs, a.Edge.validate())
	return errors.Join(errs...)
}

// Edge is the public entry point's TLS: HTTPS on 443 for Domain with the certificate in the
// Secret CredentialName, port 80 redirecting to it, and HSTS on every response.
type Edge struct {
	Domain string
	// TLSAtLoadBalancer says the load balancer in front of the gateway terminates TLS on 443
	// (its annotations, in LoadBalancerAnnotations, say how): the gateway then serves the
	// decrypted requests as HTTP on 443, and has no CredentialName.
	TLSAtLoadBalancer bool
	// CredentialName is a kubernetes.io/tls Secret in the gateway's namespace: the gateway
	// reads it there (https://istio.io/latest/docs/tasks/traffic-management/ingress/secure-ingress/).
	CredentialName string
	// Certificate (PEM chain) and PrivateKey (a secret), when set, are written to
	// CredentialName by the component; otherwise something else writes it (cert-manager).
	Certificate, PrivateKey pulumi.StringInput
	// HTTP01 leaves ACME HTTP-01 challenges on port 80 unredirected; see New.
	HTTP01 bool
	// HSTSMaxAge is the Strict-Transport-Security max-age in seconds.
	HSTSMaxAge int
}

func (e *Edge) validate() error {
	if e == nil {
		return nil
	}
	var errs []error
	switch {
	case e.TLSAtLoadBalancer:
		if e.Domain == "" || e.CredentialName != "" || e.Certificate != nil || e.HTTP01 {
			errs = append(errs, errors.New("istio: an Edge with TLSAtLoadBalancer needs a Domain and takes no CredentialName, Certificate or HTTP01"))
		}
	case e.Domain == "" || e.CredentialName == "":
		errs = append(errs, errors.New("istio: Edge needs a Domain and a CredentialName"))
	}
	if (e.Certificate == nil) != (e.PrivateKey == nil) {
		errs = append(errs, errors.New("istio: Edge's Certificate and PrivateKey go together"))
	}
	if e.HSTSMaxAge < 1 {
		errs = append(errs, fmt.Errorf("istio: Edge HSTSMaxAge %d: want a positive number of seconds", e.HSTSMaxAge))
	}
	return errors.Join(errs...)
}

// Mesh is the installed mesh.
type Mesh struct {
	pulumi.ResourceState

	// Ready are the resources later layers wait for: the control plane and its CRDs.
	Ready []pulumi.Resource
	// GatewayService is the ingress gateway's Service, "name.namespace".
	GatewayService string
}

// New installs the mesh. Kubernetes objects go to the provider given in opts.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Mesh, error) {
	if err := args.validate(); err != nil {
		return nil, err
	}
	m := &Mesh{GatewayService: GatewayName + "." + args.GatewayNamespace}
	if err := ctx.RegisterComponentResource("groundwork:platform:Istio", name, m, opts...); err != nil {
		return nil, err
	}
	hub := chart.Registry(args.ImageMirror, upstreamHub)
	global := pulumi.Map{"hub": pulumi.String(hub), "tag": pulumi.String(Version), "logAsJson": pulumi.Bool(true)}
	install := func(spec chart.Spec, release, ns string, values pulumi.Map, after ...pulumi.Resource) (pulumi.Resource, error) {
		return chart.Install(ctx, name+"-"+spec.Name, spec, args.Charts, chart.Args{
			Release: release, Namespace: ns, Values: values, Labels: args.Labels,
		}, pulumi.Parent(m), chart.DependsOn(args.After), chart.DependsOn(after))
	}

	base, err := install(Base, "istio-base", args.SystemNamespace, pulumi.Map{
		"global": pulumi.Map{"istioNamespace": pulumi.String(args.SystemNamespace)},
	})
	if err != nil {
		return nil, err
	}
	// The CNI node agent sets up pod networking, so application pods need no privileged init
	// container and their namespaces can enforce the restricted Pod Security Standard.
	cni, err := install(CNI, "istio-cni", args.CNINamespace, pulumi.Map{"global": global}, base)
	if err != nil {
		return nil, err
	}
	istiod, err := install(Istiod, "istiod", args.SystemNamespace, pulumi.Map{
		"global":           global,
		"autoscaleEnabled": pulumi.Bool(true),
		"autoscaleMin":     pulumi.Int(args.Istiod.Min),
		"autoscaleMax":     pulumi.Int(args.Istiod.Max),
		"resources": pulumi.Map{
			"requests": pulumi.Map{"cpu": pulumi.String("250m"), "memory": pulumi.String("512Mi")},
			"limits":   pulumi.Map{"cpu": pulumi.String("2"), "memory": pulumi.String("2Gi")},
		},
		"cni":                       pulumi.Map{"enabled": pulumi.Bool(true)},
		"topologySpreadConstraints": zoneSpread(args.Zones, "istiod"),
		"meshConfig": pulumi.Map{
			"accessLogFile":     pulumi.String("/dev/stdout"),
			"accessLogEncoding": pulumi.String("JSON"),
			"defaultConfig": pulumi.Map{
				// Applications start after their proxy, so their first calls do not fail.
				"holdApplicationUntilProxyStarts": pulumi.Bool(true),
			},
			"extensionProviders": pulumi.Array{pulumi.Map{
				"name": pulumi.String("otel-tracing"),
				"opentelemetry": pulumi.Map{
					"service": pulumi.String(args.TracingHost),
					"port":    pulumi.Int(args.TracingPort),
				},
			}},
		},
	}, base, cni)
	if err != nil {
		return nil, err
	}
	gateway, err := install(Gateway, GatewayName, args.GatewayNamespace, pulumi.Map{
		"autoscaling": pulumi.Map{
			"enabled":                        pulumi.Bool(true),
			"minReplicas":                    pulumi.Int(args.Gateway.Min),
			"maxReplicas":                    pulumi.Int(args.Gateway.Max),
			"targetCPUUtilizationPercentage": pulumi.Int(70),
		},
		"podDisruptionBudget": disruptionBudget(args.Gateway.Min),
		"service": pulumi.Map{
			"type":        pulumi.String("LoadBalancer"),
			"annotations": args.LoadBalancerAnnotations,
			// Keep the client's address for rate limits and logs.
			"externalTrafficPolicy": pulumi.String("Local"),
			// Only the public ports: the chart's default list also opens the proxies' status
			// port 15021 to the internet. The load balancer's health check uses the
			// healthCheckNodePort that externalTrafficPolicy Local gives the Service.
			"ports": pulumi.Array{
				pulumi.Map{"name": pulumi.String("http2"), "port": pulumi.Int(80), "protocol": pulumi.String("TCP"), "targetPort": pulumi.Int(80)},
				pulumi.Map{"name": pulumi.String("https"), "port": pulumi.Int(443), "protocol": pulumi.String("TCP"), "targetPort": pulumi.Int(443)},
			},
		},
		"resources": pulumi.Map{
			"requests": pulumi.Map{"cpu": pulumi.String("200m"), "memory": pulumi.String("256Mi")},
			"limits":   pulumi.Map{"cpu": pulumi.String("2"), "memory": pulumi.String("1Gi")},
		},
		"topologySpreadConstraints": zoneSpread(args.Zones, GatewayName),
	}, istiod)
	if err != nil {
		return nil, err
	}

	afterIstiod := chart.DependsOn(append([]pulumi.Resource{istiod}, args.After...))
	// The public Gateway says when the load balancer terminates TLS for it, for the policy pack
	// (encryption-in-transit, edge-tls-at-load-balancer) to check against the Service.
	var gatewayAnnotations pulumi.StringMap
	if e := args.Edge; e != nil && e.TLSAtLoadBalancer {
		gatewayAnnotations = pulumi.StringMap{TLSTerminationAnnotation: pulumi.String(TLSTerminationLoadBalancer)}
	}
	policies := []struct {
		name, apiVersion, kind, ns string
		spec                       pulumi.Map
	}{
		// Mutual TLS is required for every workload of the mesh: plain text is refused.
		{"mtls", "security.istio.io/v1", "PeerAuthentication", args.SystemNamespace, pulumi.Map{
			"mtls": pulumi.Map{"mode": pulumi.String("STRICT")},
		}},
		// Every proxy logs its requests and traces a sample of them.
		{"telemetry", "telemetry.istio.io/v1", "Telemetry", args.SystemNamespace, pulumi.Map{
			"accessLogging": pulumi.Array{pulumi.Map{"providers": pulumi.Array{pulumi.Map{"name": pulumi.String("envoy")}}}},
			"tracing": pulumi.Array{pulumi.Map{
				"providers":                pulumi.Array{pulumi.Map{"name": pulumi.String("otel-tracing")}},
				"randomSamplingPercentage": pulumi.Float64(args.TraceSampling),
			}},
		}},
		{"public", "networking.istio.io/v1", "Gateway", args.GatewayNamespace, pulumi.Map{
			"selector": pulumi.StringMap{"istio": pulumi.String("ingressgateway")},
			"servers":  servers(args.Edge),
		}},
		// The API gateway inside the mesh is the only backend of the public entry point.
		{"to-api-gateway", "networking.istio.io/v1", "VirtualService", args.GatewayNamespace, toAPIGateway(args)},
	}
	if e := args.Edge; e != nil && e.HTTP01 {
		policies = append(policies, struct {
			name, apiVersion, kind, ns string
			spec                       pulumi.Map
		}{"https-redirect", "networking.istio.io/v1", "VirtualService", args.GatewayNamespace, httpsRedirect(args.GatewayNamespace, e.Domain)})
	}
	if e := args.Edge; e != nil && e.Certificate != nil {
		if _, err := corev1.NewSecret(ctx, name+"-edge-tls", &corev1.SecretArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(e.CredentialName), Namespace: pulumi.String(args.GatewayNamespace), Labels: pulumi.ToStringMap(args.Labels)},
			Type:     pulumi.String("kubernetes.io/tls"),
			StringData: pulumi.StringMap{
				"tls.crt": e.Certificate,
				"tls.key": pulumi.ToSecret(e.PrivateKey).(pulumi.StringOutput),
			},
		}, pulumi.Parent(m), chart.DependsOn(args.After)); err != nil {
			return nil, fmt.Errorf("istio edge certificate: %w", err)
		}
	}
	for _, p := range policies {
		metaName := p.name
		if p.kind == "PeerAuthentication" || p.kind == "Telemetry" {
			// Mesh-wide policies are the ones named "default" in the root namespace.
			metaName = "default"
		}
		meta := &metav1.ObjectMetaArgs{Name: pulumi.String(metaName), Namespace: pulumi.String(p.ns), Labels: pulumi.ToStringMap(args.Labels)}
		if p.kind == "Gateway" && gatewayAnnotations != nil {
			meta.Annotations = gatewayAnnotations
		}
		if _, err := apiextensions.NewCustomResource(ctx, name+"-"+p.name, &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String(p.apiVersion),
			Kind:        pulumi.String(p.kind),
			Metadata:    meta,
			OtherFields: map[string]any{"spec": p.spec},
		}, pulumi.Parent(m), afterIstiod); err != nil {
			return nil, fmt.Errorf("istio %s: %w", p.kind, err)
		}
	}
	m.Ready = []pulumi.Resource{base, istiod, gateway}
	return m, ctx.RegisterResourceOutputs(m, pulumi.Map{"gatewayService": pulumi.String(m.GatewayService)})
}

// servers are the public Gateway's listeners: plain HTTP on 80 for any host without an Edge;
// with one, HTTPS on 443 for its domain and port 80 redirecting there.
//
// Where the load balancer terminates TLS, the 443 server is HTTP: the requests arrive on the
// Service's port 443 already decrypted. A Gateway server's port.number is a Service port:
// istiod resolves it to the Service's targetPort and the gateway pod listens there
// (istio/istio pilot/pkg/model/gateway.go, resolvePorts); the chart values above map 443 to
// targetPort 443, so the pod serves HTTP on 443 as its own listener, with its own routes
// (apart from port 80's redirect).
func servers(e *Edge) pulumi.Array {
	if e == nil {
		return pulumi.Array{pulumi.Map{
			"port":  pulumi.Map{"number": pulumi.Int(80), "name": pulumi.String("http"), "protocol": pulumi.String("HTTP")},
			"hosts": pulumi.StringArray{pulumi.String("*")},
		}}
	}
	hosts := pulumi.StringArray{pulumi.String(e.Domain)}
	http := pulumi.Map{
		"port":  pulumi.Map{"number": pulumi.Int(80), "name": pulumi.String("http"), "protocol": pulumi.String("HTTP")},
		"hosts": hosts,
	}
	if !e.HTTP01 {
		// Every request on 80 is answered with a 301 to https.
		http["tls"] = pulumi.Map{"httpsRedirect": pulumi.Bool(true)}
	}
	if e.TLSAtLoadBalancer {
		return pulumi.Array{
			pulumi.Map{
				"port":  pulumi.Map{"number": pulumi.Int(443), "name": pulumi.String("https-at-load-balancer"), "protocol": pulumi.String("HTTP")},
				"hosts": hosts,
			},
			http,
		}
	}
	return pulumi.Array{
		pulumi.Map{
			"port":  pulumi.Map{"number": pulumi.Int(443), "name": pulumi.String("https"), "protocol": pulumi.String("HTTPS")},
			"hosts": hosts,
			"tls": pulumi.Map{
				"mode":               pulumi.String("SIMPLE"),
				"credentialName":     pulumi.String(e.CredentialName),
				"minProtocolVersion": pulumi.String("TLSV1_2"),
			},
		},
		http,
	}
}

// toAPIGateway routes the public entry point to the API gateway: every request without an
// Edge; with one, the HTTPS listener's only, each response telling browsers to use HTTPS
// from then on (HSTS).
func toAPIGateway(a Args) pulumi.Map {
	route := pulumi.Map{
		"route": pulumi.Array{pulumi.Map{"destination": pulumi.Map{
			"host": pulumi.String(a.UpstreamHost),
			"port": pulumi.Map{"number": pulumi.Int(a.UpstreamPort)},
		}}},
	}
	hosts := pulumi.StringArray{pulumi.String("*")}
	if e := a.Edge; e != nil {
		hosts = pulumi.StringArray{pulumi.String(e.Domain)}
		route["match"] = pulumi.Array{pulumi.Map{"port": pulumi.Int(443)}}
		headers := pulumi.Map{"response": pulumi.Map{"set": pulumi.StringMap{
			"Strict-Transport-Security": pulumi.String(fmt.Sprintf("max-age=%d; includeSubDomains", e.HSTSMaxAge)),
		}}}
		if e.TLSAtLoadBalancer {
			// The gateway saw plain HTTP and says so in X-Forwarded-Proto; the client spoke HTTPS.
			headers["request"] = pulumi.Map{"set": pulumi.StringMap{"X-Forwarded-Proto": pulumi.String("https")}}
		}
		route["headers"] = headers
	}
	return pulumi.Map{
		"hosts":    hosts,
		"gateways": pulumi.StringArray{pulumi.String(a.GatewayNamespace + "/public")},
		"http":     pulumi.Array{route},
	}
}

// httpsRedirect answers requests on port 80 with a 301 to https, leaving room for the ACME
// HTTP-01 challenges of cert-manager's solver. The Gateway's own tls.httpsRedirect cannot be
// used then: Istio merges the routes of every gateway on port 80 into one virtual host per
// domain and marks the whole host require_tls when one server redirects, challenge paths
// included (pilot/pkg/networking/core/gateway.go, buildGatewayHTTPRouteConfig); Let's Encrypt
// follows the redirect but the solver's Ingress has no route on 443. A route instead: Istio puts
// catch-all routes after the specific ones of the same host (CombineVHostRoutes), so the
// solver's exact /.well-known/acme-challenge/<token> path, from the Ingress Istio's controller
// translates, still reaches the solver.
func httpsRedirect(gatewayNamespace, domain string) pulumi.Map {
	return pulumi.Map{
		"hosts":    pulumi.StringArray{pulumi.String(domain)},
		"gateways": pulumi.StringArray{pulumi.String(gatewayNamespace + "/public")},
		"http": pulumi.Array{pulumi.Map{
			"match":    pulumi.Array{pulumi.Map{"port": pulumi.Int(80)}},
			"redirect": pulumi.Map{"scheme": pulumi.String("https"), "redirectCode": pulumi.Int(301)},
		}},
	}
}

// zoneSpread keeps replicas apart across zones where there are several; one zone needs none.
func zoneSpread(zones []string, app string) pulumi.Array {
	if len(zones) < 2 {
		return pulumi.Array{}
	}
	return pulumi.Array{pulumi.Map{
		"maxSkew":           pulumi.Int(1),
		"topologyKey":       pulumi.String("topology.kubernetes.io/zone"),
		"whenUnsatisfiable": pulumi.String("ScheduleAnyway"),
		"labelSelector":     pulumi.Map{"matchLabels": pulumi.StringMap{"app": pulumi.String(app)}},
	}}
}

// disruptionBudget keeps one replica up during drains where there are two or more; none at
// one replica, where a budget would block every drain (the charts render none then either).
func disruptionBudget(minReplicas int) pulumi.Map {
	if minReplicas >= 2 {
		return pulumi.Map{"minAvailable": pulumi.Int(1)}
	}
	return pulumi.Map{}
}

// APIVersions are the custom resources Istio's base chart installs, as group/version/Kind: charts are
// rendered knowing they exist (chart.Source.For), with or without a cluster to ask. The render
// test checks the list against the CRDs the chart ships.
var APIVersions = []string{
	"extensions.istio.io/v1alpha1/TrafficExtension",
	"extensions.istio.io/v1alpha1/WasmPlugin",
	"networking.istio.io/v1/DestinationRule",
	"networking.istio.io/v1/Gateway",
	"networking.istio.io/v1/ServiceEntry",
	"networking.istio.io/v1/Sidecar",
	"networking.istio.io/v1/VirtualService",
	"networking.istio.io/v1/WorkloadEntry",
	"networking.istio.io/v1/WorkloadGroup",
	"networking.istio.io/v1alpha3/DestinationRule",
	"networking.istio.io/v1alpha3/EnvoyFilter",
	"networking.istio.io/v1alpha3/Gateway",
	"networking.istio.io/v1alpha3/ServiceEntry",
	"networking.istio.io/v1alpha3/Sidecar",
	"networking.istio.io/v1alpha3/VirtualService",
	"networking.istio.io/v1alpha3/WorkloadEntry",
	"networking.istio.io/v1alpha3/WorkloadGroup",
	"networking.istio.io/v1beta1/DestinationRule",
	"networking.istio.io/v1beta1/Gateway",
	"networking.istio.io/v1beta1/ProxyConfig",
	"networking.istio.io/v1beta1/ServiceEntry",
	"networking.istio.io/v1beta1/Sidecar",
	"networking.istio.io/v1beta1/VirtualService",
	"networking.istio.io/v1beta1/WorkloadEntry",
	"networking.istio.io/v1beta1/WorkloadGroup",
	"security.istio.io/v1/AuthorizationPolicy",
	"security.istio.io/v1/PeerAuthentication",
	"security.istio.io/v1/RequestAuthentication",
	"security.istio.io/v1beta1/AuthorizationPolicy",
	"security.istio.io/v1beta1/PeerAuthentication",
	"security.istio.io/v1beta1/RequestAuthentication",
	"telemetry.istio.io/v1/Telemetry",
	"telemetry.istio.io/v1alpha1/Telemetry",
}
