// Package microservice deploys one domain service on the platform: its workload with probes,
// limits and a locked-down security context, autoscaling and disruption budget, a network policy
// that admits only the gateway, declared callers and monitoring, mesh routing with timeouts,
// retries, outlier detection and optional canary weights, its public routes on Kong, and its
// scraping by Prometheus.
package microservice

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/components/kong"
	"github.com/groundwork/groundwork/services/slo"
)

// Scale bounds the replicas; the HPA moves between them.
type Scale struct {
	Min, Max int
}

// Resources are the container's requests and limits, in Kubernetes quantities.
type Resources struct {
	RequestCPU, RequestMemory string
	LimitCPU, LimitMemory     string
}

// SecretEnv sets an environment variable from a key of a Kubernetes Secret (credentials).
type SecretEnv struct {
	Name   string
	Secret pulumi.StringInput
	Key    string
}

// Peer is a destination the service may open connections to, besides DNS and the mesh control
// plane: pods of a namespace (optionally by labels), or an address range.
type Peer struct {
	// Namespace selects pods of that namespace; with PodLabels, only those pods.
	Namespace string
	PodLabels map[string]string
	// CIDR is an address range outside the cluster (a managed database's subnets).
	CIDR  string
	Ports []int
}

// Route is one public route of the service on Kong.
type Route struct {
	Paths     []string
	Hosts     []string
	StripPath bool
	Plugins   []kong.Plugin
}

// Canary sends a share of the traffic to another image of the service.
type Canary struct {
	Image pulumi.StringInput
	// Weight is the percentage of requests the canary gets (0-100; 0 runs it dark, 100 sends
	// it everything before the stable version is replaced).
	Weight int
}

// Args configures one service. Every field is required unless it says otherwise.
type Args struct {
	// Name is the service's name: its Deployment, Service and routes (a DNS label).
	Name      string
	Namespace string
	// Image is the full image reference, pinned by tag or digest (never latest).
	Image pulumi.StringInput
	// Port serves the API (through the mesh, mTLS); MetricsPort serves /metrics in plain text
	// to Prometheus, outside the mesh, so it must differ from Port.
	Port        int
	MetricsPort int
	Scale       Scale
	// CPUTarget and MemoryTarget are the HPA's average utilization targets, in percent.
	CPUTarget, MemoryTarget int
	Resources               Resources
	// Env and SecretEnv are the service's configuration: plain values and credentials. Optional.
	Env       map[string]string
	SecretEnv []SecretEnv
	// Zones spread the replicas when there are two or more. Optional.
	Zones []string
	// RoleARN is an IAM role the service assumes through IRSA (AWS). Optional.
	RoleARN pulumi.StringInput
	// GatewayNamespace is where the API gateway runs: it may call Port.
	GatewayNamespace string
	// MonitoringNamespace is where Prometheus runs: it may scrape MetricsPort.
	MonitoringNamespace string
	// Callers are services in Namespace that may call this one. Optional.
	Callers []string
	// Egress are the destinations the service may reach besides DNS and istiod. Optional.
	Egress []Peer
	// Routes are the public routes on Kong. Optional: a service with none is internal.
	Routes []Route
	// Kong publishes the routes; required when Routes is not empty.
	Kong *kong.Kong
	// Timeout caps a request through the mesh, in seconds, e.g. "5s" or "0.5s"; Retries is how often an idempotent
	// failure (connection refused, reset, 503) is retried.
	Timeout string
	Retries int
	// Canary is optional.
	Canary *Canary
	// SLO is what the service promises; its burn-rate alerts watch it. LatencyP99 must be one
	// of slo.LatencyBounds.
	SLO slo.Objective
	// Outbox says the service publishes events through the chassis' outbox, Consumers that it
	// consumes events, Database that it has a database (the chassis' pool): each adds the
	// alerts and dashboard rows on those series. Optional.
	Outbox, Consumers, Database bool
	// RunbookURL is the runbooks file every alert links a section of, e.g.
	// https://github.com/acme/groundwork/blob/main/platform/RUNBOOKS.md.
	RunbookURL string
	// Labels go on every object (ownership labels). Optional.
	Labels map[string]string
	// After are resources every object waits for: the namespace, the mesh, the monitoring CRDs,
	// the database. Optional.
	After []pulumi.Resource
}

var (
	dnsLabel = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	quantity = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$`)
	// duration is the protobuf JSON form Istio's API takes: seconds with an optional fraction.
	duration = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,9})?s$`)
)

func (a Args) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("microservice %s: "+format, append([]any{a.Name}, args...)...))
	}
	if !dnsLabel.MatchString(a.Name) || len(a.Name) > 40 {
		bad("name %q is not a DNS label of at most 40 characters", a.Name)
	}
	if a.Namespace == "" || a.GatewayNamespace == "" || a.MonitoringNamespace == "" {
		bad("Namespace, GatewayNamespace and MonitoringNamespace are required")
	}
	if a.Image == nil {
		bad("Image is required")
	}
	for field, p := range map[string]int{"port": a.Port, "metricsPort": a.MetricsPort} {
		if p < 1024 || p > 65535 {
			bad("%s %d: want an unprivileged port, 1024-65535 (containers run as non-root)", field, p)
		}
	}
	if a.Port == a.MetricsPort {
		bad("metricsPort %d equals port: metrics are scraped in plain text outside the mesh, the API is served with mTLS", a.MetricsPort)
	}
	if a.Scale.Min < 1 || a.Scale.Max <= a.Scale.Min {
		bad("scale %d..%d: want 1 <= min < max, so the autoscaler can act", a.Scale.Min, a.Scale.Max)
	}
	for field, v := range map[string]int{"cpuTarget": a.CPUTarget, "memoryTarget": a.MemoryTarget} {
		if v < 10 || v > 95 {
			bad("%s %d%%: want 10-95", field, v)
		}
	}
	r := a.Resources
	for field, q := range map[string]string{"requests.cpu": r.RequestCPU, "requests.memory": r.RequestMemory, "limits.cpu": r.LimitCPU, "limits.memory": r.LimitMemory} {
		if !quantity.MatchString(q) {
			bad("resources %s %q is not a Kubernetes quantity like 250m or 256Mi", field, q)
		}
	}
	for _, e := range a.SecretEnv {
		if e.Name == "" || e.Secret == nil || e.Key == "" {
			bad("secret env %q needs a name, a Secret and a key", e.Name)
		}
	}
	for _, c := range a.Callers {
		if !dnsLabel.MatchString(c) {
			bad("caller %q is not a service name", c)
		}
	}
	for i, p := range a.Egress {
		if (p.Namespace == "") == (p.CIDR == "") {
			bad("egress[%d]: set either a namespace or a CIDR", i)
		}
		if len(p.Ports) == 0 {
			bad("egress[%d]: list the ports", i)
		}
	}
	if len(a.Routes) > 0 && a.Kong == nil {
		bad("has routes but no Kong to publish them")
	}
	routeKeys := map[string]bool{}
	for i, r := range a.Routes {
		if len(r.Paths) == 0 {
			bad("route %d has no paths", i)
			continue
		}
		if err := a.routeArgs(r).Validate(); err != nil {
			bad("route %s: %v", r.Paths[0], err)
		}
		if k := routeKey(r); routeKeys[k] {
			bad("two routes start with the path %q; give each route its own first path", r.Paths[0])
		} else {
			routeKeys[k] = true
		}
	}
	if !duration.MatchString(a.Timeout) {
		bad("timeout %q is not a duration in seconds like 5s or 0.5s", a.Timeout)
	}
	if a.Retries < 0 || a.Retries > 5 {
		bad("retries %d: want 0-5", a.Retries)
	}
	if a.Canary != nil && (a.Canary.Image == nil || a.Canary.Weight < 0 || a.Canary.Weight > 100) {
		bad("canary needs an image and a weight of 0-100 percent, got %d", a.Canary.Weight)
	}
	problems := a.SLO.Problems()
	for _, field := range sortedKeys(problems) {
		bad("slo %s: %s", field, problems[field])
	}
	if u, err := url.Parse(a.RunbookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
		bad("runbookURL %q: want the http(s) URL of the runbooks file, without a #section", a.RunbookURL)
	}
	return errors.Join(errs...)
}

// Service is one deployed domain service.
type Service struct {
	pulumi.ResourceState

	// Host is the service's cluster DNS name.
	Host string
}

// New deploys a service. Kubernetes objects go to the provider given in opts.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Service, error) {
	if err := args.validate(); err != nil {
		return nil, err
	}
	s := &Service{Host: args.Name + "." + args.Namespace + ".svc.cluster.local"}
	if err := ctx.RegisterComponentResource("groundwork:services:Microservice", name, s, opts...); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, name: name, args: args, opts: []pulumi.ResourceOption{pulumi.Parent(s), chart.DependsOn(args.After)}}
	steps := []struct {
		what string
		do   func() error
	}{
		{"workload", b.workload},
		{"service", b.service},
		{"autoscaling", b.autoscaling},
		{"network policy", b.networkPolicy},
		{"mesh routing", b.meshRouting},
		{"routes", b.routes},
		{"monitoring", b.monitoring},
		{"alerts", b.sloRules},
		{"dashboard", b.grafanaDashboard},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			return nil, fmt.Errorf("microservice %s %s: %w", args.Name, st.what, err)
		}
	}
	return s, ctx.RegisterResourceOutputs(s, pulumi.Map{"host": pulumi.String(s.Host)})
}

type builder struct {
	ctx  *pulumi.Context
	name string
	args Args
	opts []pulumi.ResourceOption
}

// selector selects the service's pods, stable and canary alike.
func (b *builder) selector() map[string]string {
	return map[string]string{"app.kubernetes.io/name": b.args.Name}
}

func (b *builder) labels(extra map[string]string) pulumi.StringMap {
	out := pulumi.ToStringMap(b.args.Labels)
	for k, v := range b.selector() {
		out[k] = pulumi.String(v)
	}
	for k, v := range extra {
		out[k] = pulumi.String(v)
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
