package rules_test

import (
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/groundwork/groundwork/policy/rules"
)

// obj is a property map written as Go values; secret() and computed() mark values.
type obj = map[string]any

// arr is a property array written as Go values.
type arr = []any

func secret(s string) resource.PropertyValue {
	return resource.MakeSecret(resource.NewStringProperty(s))
}

func computed() resource.PropertyValue { return resource.MakeComputed(resource.NewStringProperty("")) }

// res makes a resource from a type, a logical name and its properties.
// chartObject makes r an object a Helm chart rendered: a child of a helm.sh/v4 Chart inside a
// component, as its URN shows.
func chartObject(r rules.Resource) rules.Resource {
	r.URN = "urn:pulumi:test::groundwork::groundwork:platform:Observability$kubernetes:helm.sh/v4:Chart$" + r.Type + "::observability:monitoring/" + r.Name
	return r
}

func res(typ, name string, props obj) rules.Resource {
	return rules.Resource{
		URN:        "urn:pulumi:test::groundwork::" + typ + "::" + name,
		Type:       typ,
		Name:       name,
		Properties: resource.FromResourcePropertyMap(resource.NewPropertyMapFromMap(props)),
	}
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case obj:
		out := obj{}
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case arr:
		out := make(arr, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// with returns a copy of m with the value at a dotted path set (numbers index arrays); a nil
// value deletes the key.
func with(m obj, path string, v any) obj {
	out := deepCopy(m).(obj)
	parts := strings.Split(path, ".")
	var cur any = out
	for i, p := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case obj:
			if last {
				if v == nil {
					delete(c, p)
				} else {
					c[p] = v
				}
				return out
			}
			if _, ok := c[p]; !ok {
				c[p] = obj{}
			}
			cur = c[p]
		case arr:
			n, err := strconv.Atoi(p)
			if err != nil || n >= len(c) {
				panic("fixture path " + path)
			}
			if last {
				c[n] = v
				return out
			}
			cur = c[n]
		}
	}
	return out
}

var requiredLabels = obj{
	"app.kubernetes.io/part-of":   "groundwork",
	"app.kubernetes.io/component": "orders",
	"groundwork.io/stack":         "prod",
	"groundwork.io/owner":         "platform-team",
}

func meta(name, ns string) obj {
	return obj{"name": name, "namespace": ns, "labels": deepCopy(requiredLabels)}
}

func goodContainer(name string) obj {
	return obj{
		"name":           name,
		"image":          "123456789012.dkr.ecr.eu-west-1.amazonaws.com/groundwork-prod/orders:1.4.2",
		"readinessProbe": obj{"httpGet": obj{"path": "/healthz", "port": 8080}},
		"livenessProbe":  obj{"httpGet": obj{"path": "/healthz", "port": 8080}},
		"resources": obj{
			"requests": obj{"cpu": "100m", "memory": "128Mi"},
			"limits":   obj{"cpu": "500m", "memory": "128Mi"},
		},
		"securityContext": obj{"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "privileged": false},
	}
}

// deployment is a Deployment that every policy accepts.
func deployment(name, ns string) obj {
	return obj{
		"metadata": meta(name, ns),
		"spec": obj{
			"replicas": 3,
			"selector": obj{"matchLabels": obj{"app": name}},
			"template": obj{
				"metadata": obj{"labels": obj{"app": name}},
				"spec": obj{
					"securityContext": obj{"runAsNonRoot": true, "runAsUser": 10001},
					"topologySpreadConstraints": arr{obj{
						"topologyKey": "topology.kubernetes.io/zone", "maxSkew": 1, "whenUnsatisfiable": "ScheduleAnyway",
						"labelSelector": obj{"matchLabels": obj{"app": name}},
					}},
					"containers": arr{goodContainer("app")},
				},
			},
		},
	}
}

func service(name, ns string, selector obj) obj {
	return obj{"metadata": meta(name, ns), "spec": obj{"selector": selector, "ports": arr{obj{"port": 80, "targetPort": 8080}}}}
}

func pdb(name, ns string, matchLabels obj) obj {
	return obj{"metadata": meta(name, ns), "spec": obj{"maxUnavailable": 1, "selector": obj{"matchLabels": matchLabels}}}
}

func hpa(name, ns, target string) obj {
	return obj{"metadata": meta(name, ns), "spec": obj{
		"minReplicas": 3, "maxReplicas": 12,
		"scaleTargetRef": obj{"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
	}}
}

func denyAll(ns string) obj {
	return obj{"metadata": meta("default-deny", ns), "spec": obj{"podSelector": obj{}, "policyTypes": arr{"Ingress", "Egress"}}}
}

const (
	tDeployment  = "kubernetes:apps/v1:Deployment"
	tStatefulSet = "kubernetes:apps/v1:StatefulSet"
	tService     = "kubernetes:core/v1:Service"
	tPDB         = "kubernetes:policy/v1:PodDisruptionBudget"
	tHPA         = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
	tNetPol      = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	tSecret      = "kubernetes:core/v1:Secret"
)

// companions are a Service, a PDB, an HPA and a default deny for a Deployment named name.
func companions(name, ns string) []rules.Resource {
	return []rules.Resource{
		res(tService, name, service(name, ns, obj{"app": name})),
		res(tPDB, name, pdb(name, ns, obj{"app": name})),
		res(tHPA, name, hpa(name, ns, name)),
		res(tNetPol, ns+"-default-deny", denyAll(ns)),
	}
}

const tGateway = "kubernetes:networking.istio.io/v1:Gateway"

// lbGateway is the public Gateway of edge.tls.mode acm: HTTP on 443 behind the NLB's TLS
// listener, 80 redirecting.
var lbGateway = obj{
	"metadata": obj{"name": "public", "namespace": "istio-ingress", "annotations": obj{"groundwork.io/tls-termination": "load-balancer"}},
	"spec": obj{"selector": obj{"istio": "ingressgateway"}, "servers": arr{
		obj{"port": obj{"number": 443, "name": "https-at-load-balancer", "protocol": "HTTP"}, "hosts": arr{"api.example.com"}},
		obj{"port": obj{"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": arr{"api.example.com"}, "tls": obj{"httpsRedirect": true}},
	}},
}

// lbService is the gateway chart's Service with the annotations of mode acm.
var lbService = obj{
	"metadata": obj{"name": "istio-ingressgateway", "namespace": "istio-ingress", "annotations": obj{
		"service.beta.kubernetes.io/aws-load-balancer-type":                   "nlb",
		"service.beta.kubernetes.io/aws-load-balancer-ssl-cert":               "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
		"service.beta.kubernetes.io/aws-load-balancer-ssl-ports":              "443",
		"service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
		"service.beta.kubernetes.io/aws-load-balancer-backend-protocol":       "tcp",
	}},
	"spec": obj{"type": "LoadBalancer", "selector": obj{"app": "istio-ingressgateway", "istio": "ingressgateway"}, "ports": arr{
		obj{"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80},
		obj{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443},
	}},
}

// lbServiceWith is lbService with one annotation set, or removed for nil.
func lbServiceWith(key string, v any) obj {
	s := deepCopy(lbService).(obj)
	a := s["metadata"].(obj)["annotations"].(obj)
	if v == nil {
		delete(a, key)
	} else {
		a[key] = v
	}
	return s
}
