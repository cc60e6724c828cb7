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
	// Labels are added to the namespace's own labels. Optional.
	Labels map[string]string
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
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(args.Name), Namespace: ns.Name}
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
	return ns, ctx.RegisterResourceOutputs(ns, pulumi.Map{"name": ns.Name})
}
