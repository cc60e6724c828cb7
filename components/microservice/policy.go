package microservice

import (
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// envoyStatsPort is where every Istio sidecar serves its Prometheus metrics (http-envoy-prom).
const envoyStatsPort = 15090

func (b *builder) autoscaling() error {
	a := b.args
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(a.Name), Namespace: pulumi.String(a.Namespace), Labels: b.labels(nil)}
	metric := func(resource string, target int) *autoscalingv2.MetricSpecArgs {
		return &autoscalingv2.MetricSpecArgs{
			Type: pulumi.String("Resource"),
			Resource: &autoscalingv2.ResourceMetricSourceArgs{
				Name:   pulumi.String(resource),
				Target: &autoscalingv2.MetricTargetArgs{Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(target)},
			},
		}
	}
	if _, err := autoscalingv2.NewHorizontalPodAutoscaler(b.ctx, b.name, &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: meta,
		Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
			ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
				ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String("Deployment"), Name: pulumi.String(a.Name),
			},
			MinReplicas: pulumi.Int(a.Scale.Min),
			MaxReplicas: pulumi.Int(a.Scale.Max),
			Metrics:     autoscalingv2.MetricSpecArray{metric("cpu", a.CPUTarget), metric("memory", a.MemoryTarget)},
		},
	}, b.opts...); err != nil {
		return err
	}
	// One pod at a time may be evicted: drains proceed, and with two or more replicas the
	// service stays up.
	_, err := policyv1.NewPodDisruptionBudget(b.ctx, b.name, &policyv1.PodDisruptionBudgetArgs{
		Metadata: meta,
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MaxUnavailable: pulumi.Int(1),
			Selector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(b.selector())},
		},
	}, b.opts...)
	return err
}

// networkPolicy admits the gateway and the declared callers to the API port and Prometheus to the
// metrics port, and lets the pod reach DNS, the mesh control plane and its declared destinations.
func (b *builder) networkPolicy() error {
	a := b.args
	ports := func(ps ...int) networkingv1.NetworkPolicyPortArray {
		out := networkingv1.NetworkPolicyPortArray{}
		for _, p := range ps {
			out = append(out, &networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(p)})
		}
		return out
	}
	inNamespace := func(ns string) *networkingv1.NetworkPolicyPeerArgs {
		return &networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: &metav1.LabelSelectorArgs{
			MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(ns)},
		}}
	}
	apiFrom := networkingv1.NetworkPolicyPeerArray{inNamespace(a.GatewayNamespace)}
	for _, c := range a.Callers {
		apiFrom = append(apiFrom, &networkingv1.NetworkPolicyPeerArgs{PodSelector: &metav1.LabelSelectorArgs{
			MatchLabels: pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(c)},
		}})
	}
	dns := ports(53)
	dns = append(dns, &networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("UDP"), Port: pulumi.Int(53)})
	egress := networkingv1.NetworkPolicyEgressRuleArray{
		&networkingv1.NetworkPolicyEgressRuleArgs{Ports: dns},
		// The sidecar fetches its configuration and certificates from istiod.
		&networkingv1.NetworkPolicyEgressRuleArgs{To: networkingv1.NetworkPolicyPeerArray{inNamespace("istio-system")}, Ports: ports(15012)},
	}
	for _, p := range a.Egress {
		peer := &networkingv1.NetworkPolicyPeerArgs{}
		if p.CIDR != "" {
			peer.IpBlock = &networkingv1.IPBlockArgs{Cidr: pulumi.String(p.CIDR)}
		} else {
			peer = inNamespace(p.Namespace)
			if len(p.PodLabels) > 0 {
				peer.PodSelector = &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(p.PodLabels)}
			}
		}
		egress = append(egress, &networkingv1.NetworkPolicyEgressRuleArgs{To: networkingv1.NetworkPolicyPeerArray{peer}, Ports: ports(p.Ports...)})
	}
	_, err := networkingv1.NewNetworkPolicy(b.ctx, b.name, &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(a.Name), Namespace: pulumi.String(a.Namespace), Labels: b.labels(nil)},
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(b.selector())},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{
				&networkingv1.NetworkPolicyIngressRuleArgs{From: apiFrom, Ports: ports(a.Port)},
				// Prometheus scrapes the service's metrics and its sidecar's Envoy statistics.
				&networkingv1.NetworkPolicyIngressRuleArgs{From: networkingv1.NetworkPolicyPeerArray{inNamespace(a.MonitoringNamespace)}, Ports: ports(a.MetricsPort, envoyStatsPort)},
			},
			Egress: egress,
		},
	}, b.opts...)
	return err
}
