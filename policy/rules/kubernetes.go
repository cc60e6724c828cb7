package rules

import (
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

func isKubernetes(typ string) bool { return strings.HasPrefix(typ, "kubernetes:") }

// kind is the last part of a type token: "Deployment" of "kubernetes:apps/v1:Deployment".
func kind(typ string) string { return typ[strings.LastIndex(typ, ":")+1:] }

// group is the API group of a Kubernetes type token: "apps" of "kubernetes:apps/v1:Deployment",
// "core" of "kubernetes:core/v1:Service".
func group(typ string) string {
	parts := strings.SplitN(typ, ":", 3)
	if len(parts) != 3 || parts[0] != "kubernetes" {
		return ""
	}
	g, _, _ := strings.Cut(parts[1], "/")
	return g
}

// isK8s reports whether a type token is the Kubernetes kind in the API group, at any version.
func isK8s(typ, grp, k string) bool {
	return isKubernetes(typ) && group(typ) == grp && kind(typ) == k
}

// Kubernetes kinds the policies know.
func isDeployment(t string) bool  { return isK8s(t, "apps", "Deployment") }
func isStatefulSet(t string) bool { return isK8s(t, "apps", "StatefulSet") }

// clusterScoped are the kinds of Kubernetes objects that live in no namespace.
var clusterScoped = []string{
	"Namespace", "StorageClass", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
	"PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "IngressClass", "CSIDriver",
	"ClusterIssuer", "APIService", "RuntimeClass",
}

// ChartType is the component Groundwork's chart package registers for each chart it installs;
// the objects the chart renders are its children.
const ChartType = "groundwork:chart:Chart"

func isHelm(typ string) bool {
	return strings.HasPrefix(typ, "kubernetes:helm.sh/") || typ == ChartType
}

// namespaceOf is a Kubernetes object's namespace: "default" where unset, "" for cluster-scoped
// kinds, "?" where unknown. Helm releases and charts take theirs from "namespace".
func namespaceOf(r Resource) string {
	key := "metadata.namespace"
	if isHelm(r.Type) {
		key = "namespace"
	}
	v := get(r.Properties, key)
	switch {
	case v.IsComputed():
		return "?"
	case v.IsString() && v.AsString() != "":
		return v.AsString()
	case contains(clusterScoped, kind(r.Type)):
		return ""
	}
	return "default"
}

// kindName names a Kubernetes type for people: "Deployment", or "Cluster.postgresql.cnpg.io"
// for a custom resource whose kind alone is ambiguous.
func kindName(typ string) string {
	g := group(typ)
	if strings.Contains(g, ".") && !strings.HasSuffix(g, ".k8s.io") {
		return kind(typ) + "." + g
	}
	return kind(typ)
}

// k8sName is a Kubernetes object's name, "" where unset (auto-named) or unknown.
func k8sName(r Resource) string { return str(r.Properties, "metadata.name") }

// podSpecPath is where a workload kind keeps its pod spec; "" for kinds that run no pods.
func podSpecPath(typ string) string {
	switch {
	case isK8s(typ, "apps", "Deployment"), isK8s(typ, "apps", "StatefulSet"), isK8s(typ, "apps", "DaemonSet"),
		isK8s(typ, "apps", "ReplicaSet"), isK8s(typ, "batch", "Job"), isK8s(typ, "core", "ReplicationController"):
		return "spec.template.spec"
	case isK8s(typ, "batch", "CronJob"):
		return "spec.jobTemplate.spec.template.spec"
	case isK8s(typ, "core", "Pod"):
		return "spec"
	}
	return ""
}

// isWorkload reports whether a resource runs pods.
func isWorkload(r Resource) bool { return podSpecPath(r.Type) != "" }

// container is one container of a pod spec.
type container struct {
	name string
	init bool
	spec property.Map
}

// containers lists the containers and init containers of a workload.
func containers(r Resource) []container {
	p := podSpecPath(r.Type)
	if p == "" {
		return nil
	}
	var out []container
	for _, c := range mapsOf(r.Properties, p+".containers") {
		out = append(out, container{name: str(c, "name"), spec: c})
	}
	for _, c := range mapsOf(r.Properties, p+".initContainers") {
		out = append(out, container{name: str(c, "name"), init: true, spec: c})
	}
	return out
}

func (c container) label() string {
	if c.init {
		return "init container " + quote(c.name)
	}
	return "container " + quote(c.name)
}

func quote(s string) string { return `"` + s + `"` }

// podLabels are the labels of a workload's pod template.
func podLabels(r Resource) (map[string]string, bool) {
	if isK8s(r.Type, "core", "Pod") {
		return stringMap(r.Properties, "metadata.labels")
	}
	return stringMap(r.Properties, strings.TrimSuffix(podSpecPath(r.Type), ".spec")+".metadata.labels")
}

// podAnnotations are the annotations of a workload's pod template.
func podAnnotations(r Resource) (map[string]string, bool) {
	if isK8s(r.Type, "core", "Pod") {
		return stringMap(r.Properties, "metadata.annotations")
	}
	return stringMap(r.Properties, strings.TrimSuffix(podSpecPath(r.Type), ".spec")+".metadata.annotations")
}

// selects reports whether the LabelSelector at path (matchLabels and matchExpressions) selects
// the labels; an empty selector selects everything. ok is false when the selector is unknown.
func selects(m property.Map, path string, labels map[string]string) (match, ok bool) {
	sel := get(m, path)
	if sel.IsComputed() {
		return false, false
	}
	ml, known := stringMap(m, path+".matchLabels")
	if !known {
		return false, false
	}
	for k, v := range ml {
		if labels[k] != v {
			return false, true
		}
	}
	for _, e := range mapsOf(m, path+".matchExpressions") {
		key, op := str(e, "key"), str(e, "operator")
		vals, _ := stringList(e, "values")
		v, present := labels[key]
		switch op {
		case "In":
			if !present || !contains(vals, v) {
				return false, true
			}
		case "NotIn":
			if present && contains(vals, v) {
				return false, true
			}
		case "Exists":
			if !present {
				return false, true
			}
		case "DoesNotExist":
			if present {
				return false, true
			}
		}
	}
	return true, true
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// replicas is a workload's spec.replicas: 1 where unset (the Kubernetes default); known is false
// when unknown.
func replicas(r Resource) (n int, known bool) {
	f, ok, known := number(r.Properties, "spec.replicas")
	if !known {
		return 0, false
	}
	if !ok {
		return 1, true
	}
	return int(f), true
}

// isKubernetesObject reports whether a type is a Kubernetes API object with metadata (not a Helm
// release or chart, a YAML/Kustomize group, a Patch or a List).
func isKubernetesObject(typ string) bool {
	if !isKubernetes(typ) || strings.HasPrefix(typ, "kubernetes:helm.sh/") || strings.HasPrefix(typ, "kubernetes:yaml") ||
		strings.HasPrefix(typ, "kubernetes:kustomize") || strings.HasSuffix(typ, "Patch") || strings.HasSuffix(typ, "List") {
		return false
	}
	return true
}
