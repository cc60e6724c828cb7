// Package kong installs the Kong API gateway (DB-less, with its ingress controller) from the
// official chart inside the mesh, applies its global plugins, and publishes services' routes
// with their plugins.
package kong

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/infra"
)

// Chart is the Kong chart (Kong Gateway 3.x with the Kong ingress controller), chart 3.4.1.
var Chart = chart.Spec{Name: "kong", Version: "3.4.1", Repo: "https://charts.konghq.com"}

// Charts lists every chart the component installs.
var Charts = []chart.Spec{Chart}

// IngressClass is the class the Kong ingress controller serves.
const IngressClass = "kong"

// ProxyPort is the proxy Service's HTTP port.
const ProxyPort = 80

// Scale bounds the proxy's replicas; its HPA moves between them.
type Scale struct {
	Min, Max int
}

// Args configures the gateway.
type Args struct {
	// Namespace holds Kong; it must have sidecar injection on, so Kong talks mTLS in the mesh.
	Namespace string
	Charts    chart.Source
	// ImageMirror replaces docker.io for Kong's images. Optional.
	ImageMirror string
	Scale       Scale
	Zones       []string
	// GlobalPlugins apply to every route (KongClusterPlugin with the global label).
	GlobalPlugins []Plugin
	// MonitoringReady are the resources that define the ServiceMonitor kind. Optional: without
	// them Kong's ServiceMonitor is not created.
	MonitoringReady []pulumi.Resource
	// Labels go on every object the component creates (ownership labels).
	Labels map[string]string
	// After are resources every object of Kong waits for: its namespace, the mesh. A component's
	// own dependencies do not reach its children, so they are passed here.
	After []pulumi.Resource
}

func (a Args) validate() error {
	var errs []error
	if a.Namespace == "" {
		errs = append(errs, errors.New("kong: Namespace is required"))
	}
	if a.Scale.Min < 1 || a.Scale.Max < a.Scale.Min {
		errs = append(errs, fmt.Errorf("kong: scale %d..%d: want 1 <= min <= max", a.Scale.Min, a.Scale.Max))
	}
	errs = append(errs, validatePlugins(a.GlobalPlugins))
	return errors.Join(errs...)
}

// Kong is the installed gateway.
type Kong struct {
	pulumi.ResourceState

	// ProxyHost is the proxy Service's cluster DNS name: the backend of the public entry point.
	ProxyHost string
	chart     pulumi.Resource
	labels    map[string]string
}

// New installs Kong and its global plugins. Kubernetes objects go to the provider given in opts.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Kong, error) {
	if err := args.validate(); err != nil {
		return nil, err
	}
	k := &Kong{ProxyHost: ProxyHost(args.Namespace), labels: args.Labels}
	if err := ctx.RegisterComponentResource("groundwork:platform:Kong", name, k, opts...); err != nil {
		return nil, err
	}
	registry := chart.Registry(args.ImageMirror, "docker.io/library")
	kicRegistry := chart.Registry(args.ImageMirror, "docker.io/kong")
	values := pulumi.Map{
		"image": pulumi.Map{"repository": pulumi.String(registry + "/kong")},
		"env": pulumi.Map{
			"database": pulumi.String("off"),
			// JSON logs to stdout for the log pipeline.
			"proxy_access_log": pulumi.String("/dev/stdout"),
			"proxy_error_log":  pulumi.String("/dev/stderr"),
			"headers":          pulumi.String("off"),
			// The client's address for per-IP rate limits: Kong's peer is the mesh (its sidecar
			// at 127.0.0.6, or the ingress gateway), never the client, so without these every
			// "per client" limit is one bucket for all clients. The ingress gateway appends the
			// client's address to X-Forwarded-For (Envoy use_remote_address; the gateway
			// Service keeps it with externalTrafficPolicy Local), and nginx's realip module with
			// real_ip_recursive off takes the last entry from a trusted peer
			// (nginx.org/en/docs/http/ngx_http_realip_module.html; Kong's trusted_ips,
			// real_ip_header, real_ip_recursive). Every peer is trusted: Kong's NetworkPolicy
			// admits only the ingress gateway, monitoring and its own namespace.
			"trusted_ips":       pulumi.String("0.0.0.0/0,::/0"),
			"real_ip_header":    pulumi.String("X-Forwarded-For"),
			"real_ip_recursive": pulumi.String("off"),
		},
		"admin": pulumi.Map{"enabled": pulumi.Bool(false)},
		"proxy": pulumi.Map{
			// Public traffic arrives through the mesh's ingress gateway, never straight to Kong.
			"type": pulumi.String("ClusterIP"),
			"http": pulumi.Map{"enabled": pulumi.Bool(true), "servicePort": pulumi.Int(ProxyPort), "containerPort": pulumi.Int(8000)},
			"tls":  pulumi.Map{"enabled": pulumi.Bool(false)},
		},
		"ingressController": pulumi.Map{
			"enabled":      pulumi.Bool(true),
			"ingressClass": pulumi.String(IngressClass),
			"image":        pulumi.Map{"repository": pulumi.String(kicRegistry + "/kubernetes-ingress-controller")},
			// Off: the chart generates the webhook's CA and key pair in its templates, so every
			// render (every preview) would replace them. The webhook only advises (its
			// failurePolicy is Ignore); Kong's plugins are validated by the program before apply.
			"admissionWebhook": pulumi.Map{"enabled": pulumi.Bool(false)},
		},
		"replicaCount": pulumi.Int(args.Scale.Min),
		"autoscaling": pulumi.Map{
			"enabled":     pulumi.Bool(true),
			"minReplicas": pulumi.Int(args.Scale.Min),
			"maxReplicas": pulumi.Int(args.Scale.Max),
			"metrics": pulumi.Array{pulumi.Map{
				"type":     pulumi.String("Resource"),
				"resource": pulumi.Map{"name": pulumi.String("cpu"), "target": pulumi.Map{"type": pulumi.String("Utilization"), "averageUtilization": pulumi.Int(70)}},
			}},
		},
		// A budget at one replica would block every drain and upgrade: the chart refuses it
		// ("Enabling PodDisruptionBudget with autoscaling.minReplicas: 1 prevents pod restarts").
		"podDisruptionBudget": pulumi.Map{"enabled": pulumi.Bool(args.Scale.Min >= 2), "maxUnavailable": pulumi.String("1")},
		"resources": pulumi.Map{
			"requests": pulumi.Map{"cpu": pulumi.String("250m"), "memory": pulumi.String("256Mi")},
			"limits":   pulumi.Map{"cpu": pulumi.String("2"), "memory": pulumi.String("1Gi")},
		},
		// The platform installs the ServiceMonitor kind before Kong (MonitoringReady): the chart
		// must not drop its ServiceMonitor for want of a cluster to ask.
		"serviceMonitor": pulumi.Map{"enabled": pulumi.Bool(len(args.MonitoringReady) > 0), "trustCRDsExist": pulumi.Bool(true)},
		"deployment":     pulumi.Map{"test": pulumi.Map{"enabled": pulumi.Bool(false)}},
	}
	if len(args.Zones) > 1 {
		values["topologySpreadConstraints"] = pulumi.Array{pulumi.Map{
			"maxSkew": pulumi.Int(1), "topologyKey": pulumi.String("topology.kubernetes.io/zone"),
			"whenUnsatisfiable": pulumi.String("ScheduleAnyway"),
			"labelSelector":     pulumi.Map{"matchLabels": pulumi.StringMap{"app.kubernetes.io/name": pulumi.String("kong")}},
		}}
	}
	c, err := chart.Install(ctx, name, Chart, args.Charts, chart.Args{Namespace: args.Namespace, Values: values, Labels: args.Labels},
		pulumi.Parent(k), chart.DependsOn(args.MonitoringReady), chart.DependsOn(args.After))
	if err != nil {
		return nil, err
	}
	k.chart = c
	for _, p := range args.GlobalPlugins {
		if _, err := apiextensions.NewCustomResource(ctx, name+"-global-"+p.Name(), &apiextensions.CustomResourceArgs{
			ApiVersion: pulumi.String("configuration.konghq.com/v1"),
			Kind:       pulumi.String("KongClusterPlugin"),
			Metadata: &metav1.ObjectMetaArgs{
				Name:        pulumi.String("global-" + p.Name()),
				Labels:      infra.WithLabels(args.Labels, map[string]string{"global": "true"}),
				Annotations: pulumi.StringMap{"kubernetes.io/ingress.class": pulumi.String(IngressClass)},
			},
			OtherFields: map[string]any{"plugin": p.Name(), "config": p.Config()},
		}, pulumi.Parent(k), chart.DependsOn([]pulumi.Resource{c})); err != nil {
			return nil, fmt.Errorf("kong global plugin %s: %w", p.Name(), err)
		}
	}
	return k, ctx.RegisterResourceOutputs(k, pulumi.Map{"proxyHost": pulumi.String(k.ProxyHost)})
}

// Ready are what objects served by Kong (routes, plugins, consumers) wait for: its chart, which
// brings the CRDs and the controller.
func (k *Kong) Ready() []pulumi.Resource { return []pulumi.Resource{k.chart} }

// ProxyHost is the cluster DNS name of the proxy Service of a Kong installed in namespace: the
// release is named after the chart, so Helm names the Service kong-proxy. The mesh needs it
// before Kong exists.
func ProxyHost(namespace string) string {
	return "kong-proxy." + namespace + ".svc.cluster.local"
}

// RouteArgs publishes one service's paths through Kong.
type RouteArgs struct {
	// Name names the Ingress and prefixes its KongPlugins. Optional: the Service's name, which
	// suits a service with one route.
	Name string
	// Namespace and Service name the backend Service; Port is its port.
	Namespace string
	Service   string
	Port      int
	// Hosts the route answers; empty answers any host.
	Hosts []string
	// Paths are path prefixes, e.g. "/v1/users".
	Paths []string
	// StripPath removes the matched prefix before the request reaches the service.
	StripPath bool
	// Plugins apply to this route only, on top of the global ones.
	Plugins []Plugin
}

// Validate checks a route before anything is created: Route calls it, and so can a component
// that creates other objects before its routes.
func (a RouteArgs) Validate() error {
	var errs []error
	if a.Namespace == "" || a.Service == "" {
		errs = append(errs, errors.New("kong route: Namespace and Service are required"))
	}
	if a.Port < 1 || a.Port > 65535 {
		errs = append(errs, fmt.Errorf("kong route: port %d is out of range", a.Port))
	}
	if len(a.Paths) == 0 {
		errs = append(errs, errors.New("kong route: at least one path is required"))
	}
	for _, p := range a.Paths {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("kong route: path %q must start with /", p))
		}
	}
	errs = append(errs, validatePlugins(a.Plugins))
	return errors.Join(errs...)
}

// Route publishes a service's paths with their plugins: a KongPlugin per plugin and an Ingress
// of class kong that names them. It is parented to the caller's component (opts).
func (k *Kong) Route(ctx *pulumi.Context, name string, args RouteArgs, opts ...pulumi.ResourceOption) (*networkingv1.Ingress, error) {
	if err := args.Validate(); err != nil {
		return nil, err
	}
	after := slices.Concat(opts, []pulumi.ResourceOption{chart.DependsOn([]pulumi.Resource{k.chart})})
	ingressName := args.Name
	if ingressName == "" {
		ingressName = args.Service
	}
	var pluginNames []string
	for _, p := range args.Plugins {
		pname := ingressName + "-" + p.Name()
		fields := map[string]any{"plugin": p.Name(), "config": p.Config()}
		if sp, ok := p.(secretPatcher); ok && len(sp.configPatches()) > 0 {
			fields["configPatches"] = sp.configPatches()
		}
		if _, err := apiextensions.NewCustomResource(ctx, name+"-"+p.Name(), &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String("configuration.konghq.com/v1"),
			Kind:        pulumi.String("KongPlugin"),
			Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(pname), Namespace: pulumi.String(args.Namespace), Labels: pulumi.ToStringMap(k.labels)},
			OtherFields: fields,
		}, after...); err != nil {
			return nil, fmt.Errorf("kong route %s plugin %s: %w", name, p.Name(), err)
		}
		pluginNames = append(pluginNames, pname)
	}
	annotations := pulumi.StringMap{
		"konghq.com/strip-path": pulumi.String(fmt.Sprint(args.StripPath)),
		// The upstream request carries the Service's host (konghq.com/host-header on the
		// Service), not the client's: Kong's sidecar matches the service's VirtualService by
		// Host, so the mesh's routing applies behind Kong.
		// https://developer.konghq.com/kubernetes-ingress-controller/reference/host-manipulation
		"konghq.com/preserve-host": pulumi.String("false"),
	}
	if len(pluginNames) > 0 {
		annotations["konghq.com/plugins"] = pulumi.String(strings.Join(pluginNames, ","))
	}
	paths := networkingv1.HTTPIngressPathArray{}
	for _, p := range args.Paths {
		paths = append(paths, &networkingv1.HTTPIngressPathArgs{
			Path:     pulumi.String(p),
			PathType: pulumi.String("Prefix"),
			Backend: &networkingv1.IngressBackendArgs{Service: &networkingv1.IngressServiceBackendArgs{
				Name: pulumi.String(args.Service),
				Port: &networkingv1.ServiceBackendPortArgs{Number: pulumi.Int(args.Port)},
			}},
		})
	}
	rules := networkingv1.IngressRuleArray{}
	hosts := args.Hosts
	if len(hosts) == 0 {
		hosts = []string{""}
	}
	for _, h := range hosts {
		rule := &networkingv1.IngressRuleArgs{Http: &networkingv1.HTTPIngressRuleValueArgs{Paths: paths}}
		if h != "" {
			rule.Host = pulumi.String(h)
		}
		rules = append(rules, rule)
	}
	return networkingv1.NewIngress(ctx, name, &networkingv1.IngressArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(ingressName), Namespace: pulumi.String(args.Namespace), Annotations: annotations, Labels: pulumi.ToStringMap(k.labels)},
		Spec: &networkingv1.IngressSpecArgs{
			IngressClassName: pulumi.String(IngressClass),
			Rules:            rules,
		},
	}, after...)
}

// APIVersions are the custom resources Kong's chart installs, as group/version/Kind: charts are
// rendered knowing they exist (chart.Source.For), with or without a cluster to ask. The render
// test checks the list against the CRDs the chart ships.
var APIVersions = []string{
	"configuration.konghq.com/v1/KongClusterPlugin",
	"configuration.konghq.com/v1/KongConsumer",
	"configuration.konghq.com/v1/KongIngress",
	"configuration.konghq.com/v1/KongPlugin",
	"configuration.konghq.com/v1alpha1/IngressClassParameters",
	"configuration.konghq.com/v1alpha1/KongCustomEntity",
	"configuration.konghq.com/v1alpha1/KongLicense",
	"configuration.konghq.com/v1alpha1/KongVault",
	"configuration.konghq.com/v1beta1/KongConsumerGroup",
	"configuration.konghq.com/v1beta1/KongUpstreamPolicy",
	"configuration.konghq.com/v1beta1/TCPIngress",
	"configuration.konghq.com/v1beta1/UDPIngress",
}
