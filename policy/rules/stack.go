package rules

import (
	"fmt"
	"path"
	"strings"
)

const (
	paramServiceNamespaces = "serviceNamespaces"
	paramDenyDirections    = "directions"
)

func stackPolicies() []Policy {
	return []Policy{
		{
			Name: "stack-deployment-companions", Goal: Stack, Level: Advisory,
			Description: "Every Deployment has a Service that selects its pods, a PodDisruptionBudget that protects them and a HorizontalPodAutoscaler that scales it, so each service is reachable, survives drains and follows its load.",
			CheckStack:  checkCompanions,
		},
		{
			Name: "namespace-default-deny", Goal: Stack, Level: Advisory,
			Description: "Every service namespace (one that runs Deployments) has a default-deny NetworkPolicy (empty podSelector, no rules) for the listed directions, so traffic is allowed only where a policy says so.",
			Params: []Param{
				{paramServiceNamespaces, KindStrings, []string{"*"}, "Globs of the namespaces held to default deny, among those that run Deployments."},
				{paramDenyDirections, KindStrings, []string{"Ingress", "Egress"}, "Directions the default deny must cover (Ingress, Egress)."},
			},
			CheckStack: checkDefaultDeny,
		},
	}
}

func checkCompanions(rs []Resource, _ Config) []Finding {
	var out []Finding
	for _, d := range rs {
		if !isDeployment(d.Type) {
			continue
		}
		ns := namespaceOf(d)
		labels, ok := podLabels(d)
		if ns == "?" || !ok {
			continue
		}
		var missing, fixes []string
		if found, known := hasService(d, ns, labels, rs); known && !found {
			missing, fixes = append(missing, "no Service selects its pods"), append(fixes, "a Service in "+quote(ns)+" whose spec.selector matches the pod template labels")
		}
		if pdbs, known := pdbsFor(d, rs); known && len(pdbs) == 0 {
			missing, fixes = append(missing, "no PodDisruptionBudget covers it"), append(fixes, "a policy/v1 PodDisruptionBudget with maxUnavailable 1 and the same selector")
		}
		if found, known := hasHPA(d, ns, rs); known && !found {
			missing, fixes = append(missing, "no HorizontalPodAutoscaler scales it"), append(fixes, "an autoscaling/v2 HorizontalPodAutoscaler with scaleTargetRef kind Deployment, name "+quote(k8sName(d)))
		}
		if len(missing) > 0 {
			out = append(out, Finding{d, violation(d, strings.Join(missing, "; "), "add "+strings.Join(fixes, "; "))})
		}
	}
	return out
}

func hasService(d Resource, ns string, labels map[string]string, rs []Resource) (found, known bool) {
	known = true
	for _, s := range rs {
		if !isK8s(s.Type, "core", "Service") {
			continue
		}
		sns := namespaceOf(s)
		sel, ok := stringMap(s.Properties, "spec.selector")
		if sns == "?" || !ok {
			known = false
			continue
		}
		if sns == ns && subset(sel, labels) {
			return true, true
		}
	}
	return false, known
}

func hasHPA(d Resource, ns string, rs []Resource) (found, known bool) {
	name := k8sName(d)
	if name == "" {
		return false, false // auto-named: the HPA can only refer to it by an output
	}
	known = true
	for _, h := range rs {
		if !isK8s(h.Type, "autoscaling", "HorizontalPodAutoscaler") {
			continue
		}
		hns := namespaceOf(h)
		ref := get(h.Properties, "spec.scaleTargetRef.name")
		if hns == "?" || ref.IsComputed() {
			known = false
			continue
		}
		if hns == ns && str(h.Properties, "spec.scaleTargetRef.kind") == "Deployment" && str(h.Properties, "spec.scaleTargetRef.name") == name {
			return true, true
		}
	}
	return false, known
}

// isDefaultDeny reports whether a NetworkPolicy selects every pod and allows nothing in the
// direction.
func isDefaultDeny(np Resource, direction string) bool {
	p := np.Properties
	if get(p, "spec.podSelector").IsComputed() {
		return false
	}
	if ml, _ := stringMap(p, "spec.podSelector.matchLabels"); len(ml) > 0 || len(mapsOf(p, "spec.podSelector.matchExpressions")) > 0 {
		return false
	}
	types, _ := stringList(p, "spec.policyTypes")
	hasEgress := has(p, "spec.egress")
	if len(types) == 0 {
		// Kubernetes' default: Ingress always, Egress when egress rules are given.
		types = []string{"Ingress"}
		if hasEgress {
			types = append(types, "Egress")
		}
	}
	if !contains(types, direction) {
		return false
	}
	return len(list(p, "spec."+strings.ToLower(direction))) == 0
}

func checkDefaultDeny(rs []Resource, c Config) []Finding {
	names, first := workloadNamespaces(rs, func(r Resource) bool { return isDeployment(r.Type) })
	pols, unknownNS := networkPolicies(rs)
	if unknownNS {
		return nil
	}
	var out []Finding
	for _, ns := range names {
		if exemptNamespace(ns, c) || !matchAny(c.Strings(paramServiceNamespaces), ns) {
			continue
		}
		var missing []string
		for _, dir := range c.Strings(paramDenyDirections) {
			denied := false
			for _, np := range pols[ns] {
				if isDefaultDeny(np, dir) {
					denied = true
				}
			}
			if !denied {
				missing = append(missing, dir)
			}
		}
		if len(missing) > 0 {
			d := first[ns]
			out = append(out, Finding{d, violation(d, fmt.Sprintf("runs in namespace %q, which has no default-deny NetworkPolicy for %s", ns, strings.Join(missing, " and ")),
				fmt.Sprintf("add a NetworkPolicy in %q with podSelector {} and policyTypes [%s] and no rules, then allow each caller (and DNS) explicitly", ns, strings.Join(c.Strings(paramDenyDirections), ", ")))})
		}
	}
	return out
}

func matchAny(patterns []string, s string) bool {
	for _, pat := range patterns {
		if ok, _ := path.Match(pat, s); ok {
			return true
		}
	}
	return false
}
