// Package namespace creates the namespaces of the platform, one per concern, each with Pod
// Security Admission labels, a ResourceQuota and a LimitRange, so that no workload runs without
// requests and limits and no team can starve the others.
package namespace

import (
	"errors"
	"fmt"
	"slices"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Pod Security Standards levels.
const (
	Restricted = "restricted"
	Baseline   = "baseline"
	Privileged = "privileged"
)

var levels = []string{Restricted, Baseline, Privileged}

// Quota caps what all pods of a namespace may request and use together.
type Quota struct {
	// RequestsCPU and RequestsMemory cap the sum of requests, e.g. "8" and "16Gi".
	RequestsCPU, RequestsMemory string
	// LimitsCPU and LimitsMemory cap the sum of limits.
	LimitsCPU, LimitsMemory string
	// Pods caps the number of pods.
	Pods int
}

// Defaults are the requests and limits a container gets when it declares none.
type Defaults struct {
	RequestCPU, RequestMemory string
	LimitCPU, LimitMemory     string
}

// Args configures one namespace.
type Args struct {
	// Name is the namespace name (a DNS label).
	Name string
	// PodSecurity is the Pod Security Standard enforced: restricted, baseline or privileged.
	// Audit and warn always use restricted, so a looser namespace still reports what to fix.
	PodSecurity string
	// MeshInjection turns on Istio sidecar injection for the namespace's pods.
	MeshInjection bool
	Quota         Quota
	Defaults      Defaults
	// Labels go on the namespace and every object made for it (ownership labels).
	Labels map[string]string
	// AllowFrom are namespaces whose pods may reach every pod here; pods of the namespace itself
	// always may. Everything else is denied, but for OpenPorts.
	AllowFrom []string
	// OpenPorts are pod ports anyone may reach: webhooks the API server calls, a gateway's
	// listeners, a collector every sidecar sends to.
	OpenPorts []int
	// WorkloadPolicies says every workload of the namespace brings its own NetworkPolicy: only
	// the default deny is made, as a namespace-wide allow would widen each workload's policy
	// (policies add up) to the whole namespace. AllowFrom, OpenPorts and EgressCIDRs are unused.
	WorkloadPolicies bool
	// EgressCIDRs are address ranges pods may reach on any port besides other pods and DNS: the
	// node network (kubelets, the API server's private endpoint, managed databases). Anything
	// else is reachable on HTTPS (443, 6443) only, so nothing leaves the cluster in plain text.
	EgressCIDRs []string
	// EgressPorts are ports pods may reach anywhere besides HTTPS, e.g. 80 for cert-manager's
	// HTTP-01 self-check through the public load balancer.
	EgressPorts []int
}

// Namespace is a namespace with its guard rails.
type Namespace struct {
	pulumi.ResourceState

	// Name is the namespace's name, known once the namespace exists: use it to order objects
	// after the namespace.
	Name pulumi.StringOutput
}

func (a Args) validate() error {
	var errs []error
	if a.Name == "" || len(a.Name) > 63 {
		errs = append(errs, fmt.Errorf("namespace: name %q is not a DNS label", a.Name))
	}
	if !slices.Contains(levels, a.PodSecurity) {
		errs = append(errs, fmt.Errorf("namespace %s: podSecurity %q is not allowed; allowed: restricted, baseline, privileged", a.Name, a.PodSecurity))
	}
	q := a.Quota
	if q.RequestsCPU == "" || q.RequestsMemory == "" || q.LimitsCPU == "" || q.LimitsMemory == "" || q.Pods < 1 {
		errs = append(errs, fmt.Errorf("namespace %s: quota needs requests and limits of CPU and memory and a pod count", a.Name))
	}
	d := a.Defaults
	if d.RequestCPU == "" || d.RequestMemory == "" || d.LimitCPU == "" || d.LimitMemory == "" {
		errs = append(errs, fmt.Errorf("namespace %s: defaults need a CPU and memory request and limit", a.Name))
	}
	return errors.Join(errs...)
}

// New creates the namespace, its quota and its default limits.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Namespace, error) {
	if err := args.validate(); err != nil {
		return nil, err
	}
	ns := &Namespace{}
	if err := ctx.RegisterComponentResource("groundwork:platform:Namespace", name, ns, opts...); err != nil {
		return nil, err
	}
	labels := pulumi.StringMap{
		"pod-security.kubernetes.io/enforce":         pulumi.String(args.PodSecurity),
		"pod-security.kubernetes.io/enforce-version": pulumi.String("latest"),
		"pod-security.kubernetes.io/audit":           pulumi.String(Restricted),
		"pod-security.kubernetes.io/warn":            pulumi.String(Restricted),
	}
	for k, v := range args.Labels {
		labels[k] = pulumi.String(v)
	}
	own := pulumi.ToStringMap(args.Labels)
	if args.MeshInjection {
		labels["istio-injection"] = pulumi.String("enabled")
	}
	k8sNS, err := corev1.NewNamespace(ctx, name, &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.Name), Labels: labels},
	}, pulumi.Parent(ns))
	if err != nil {
		return nil, err
	}
	ns.Name = k8sNS.Metadata.Name().Elem()
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(args.Name), Namespace: ns.Name, Labels: own}
	q := args.Quota
	if _, err := corev1.NewResourceQuota(ctx, name+"-quota", &corev1.ResourceQuotaArgs{
		Metadata: meta,
		Spec: &corev1.ResourceQuotaSpecArgs{Hard: pulumi.StringMap{
			"requests.cpu":    pulumi.String(q.RequestsCPU),
			"requests.memory": pulumi.String(q.RequestsMemory),
			"limits.cpu":      pulumi.String(q.LimitsCPU),
			"limits.memory":   pulumi.String(q.LimitsMemory),
			"pods":            pulumi.String(fmt.Sprint(q.Pods)),
		}},
	}, pulumi.Parent(ns)); err != nil {
		return nil, err
	}
	d := args.Defaults
	if _, err := corev1.NewLimitRange(ctx, name+"-limits", &corev1.LimitRangeArgs{
		Metadata: meta,
		Spec: &corev1.LimitRangeSpecArgs{Limits: corev1.LimitRangeItemArray{&corev1.LimitRangeItemArgs{
			Type:           pulumi.String("Container"),
			DefaultRequest: pulumi.StringMap{"cpu": pulumi.String(d.RequestCPU), "memory": pulumi.String(d.RequestMemory)},
			Default:        pulumi.StringMap{"cpu": pulumi.String(d.LimitCPU), "memory": pulumi.String(d.LimitMemory)},
		}}},
	}, pulumi.Parent(ns)); err != nil {
		return nil, err
	}
	if err := networkPolicies(ctx, name, args, ns.Name, own, pulumi.Parent(ns)); err != nil {
		return nil, err
	}
	return ns, ctx.RegisterResourceOutputs(ns, pulumi.Map{"name": ns.Name})
}

// networkPolicies deny all traffic of the namespace's pods, then allow ingress from the
// namespace itself, from the allowed namespaces and to the open ports, and egress to pods, DNS,
// the egress ranges and HTTPS.
func networkPolicies(ctx *pulumi.Context, name string, args Args, ns pulumi.StringOutput, labels pulumi.StringMap, opts ...pulumi.ResourceOption) error {
	peers := networkingv1.NetworkPolicyPeerArray{
		&networkingv1.NetworkPolicyPeerArgs{PodSelector: &metav1.LabelSelectorArgs{}},
	}
	for _, from := range args.AllowFrom {
		peers = append(peers, &networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: &metav1.LabelSelectorArgs{
			MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(from)},
		}})
	}
	rules := networkingv1.NetworkPolicyIngressRuleArray{&networkingv1.NetworkPolicyIngressRuleArgs{From: peers}}
	tcp := func(ports ...int) networkingv1.NetworkPolicyPortArray {
		out := networkingv1.NetworkPolicyPortArray{}
		for _, p := range ports {
			out = append(out, &networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(p)})
		}
		return out
	}
	if len(args.OpenPorts) > 0 {
		rules = append(rules, &networkingv1.NetworkPolicyIngressRuleArgs{Ports: tcp(args.OpenPorts...)})
	}
	dns := tcp(53)
	dns = append(dns, &networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("UDP"), Port: pulumi.Int(53)})
	egress := networkingv1.NetworkPolicyEgressRuleArray{
		// Any pod of the cluster, on any port: the mesh and the platform talk to each other.
		&networkingv1.NetworkPolicyEgressRuleArgs{To: networkingv1.NetworkPolicyPeerArray{
			&networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: &metav1.LabelSelectorArgs{}},
		}},
		&networkingv1.NetworkPolicyEgressRuleArgs{Ports: dns},
		// The API server and cloud APIs, encrypted.
		&networkingv1.NetworkPolicyEgressRuleArgs{Ports: tcp(443, 6443)},
	}
	if len(args.EgressPorts) > 0 {
		egress = append(egress, &networkingv1.NetworkPolicyEgressRuleArgs{Ports: tcp(args.EgressPorts...)})
	}
	for _, cidr := range args.EgressCIDRs {
		egress = append(egress, &networkingv1.NetworkPolicyEgressRuleArgs{To: networkingv1.NetworkPolicyPeerArray{
			&networkingv1.NetworkPolicyPeerArgs{IpBlock: &networkingv1.IPBlockArgs{Cidr: pulumi.String(cidr)}},
		}})
	}
	both := pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")}
	policies := []struct {
		suffix string
		spec   *networkingv1.NetworkPolicySpecArgs
	}{
		{"default-deny", &networkingv1.NetworkPolicySpecArgs{PodSelector: &metav1.LabelSelectorArgs{}, PolicyTypes: both}},
		{"allow", &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{},
			PolicyTypes: both,
			Ingress:     rules,
			Egress:      egress,
		}},
	}
	if args.WorkloadPolicies {
		policies = policies[:1]
	}
	for _, p := range policies {
		if _, err := networkingv1.NewNetworkPolicy(ctx, name+"-"+p.suffix, &networkingv1.NetworkPolicyArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(p.suffix), Namespace: ns, Labels: labels},
			Spec:     p.spec,
		}, opts...); err != nil {
			return err
		}
	}
	return nil
}
