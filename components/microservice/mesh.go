package microservice

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/kong"
	"github.com/groundwork/groundwork/components/observability"
)

// meshRouting sets how the mesh calls the service: bounded connection pools, ejection of failing
// pods, timeouts and retries, and weighted stable/canary subsets.
func (b *builder) meshRouting() error {
	a := b.args
	host := a.Name + "." + a.Namespace + ".svc.cluster.local"
	subset := func(track string) map[string]any {
		return map[string]any{"name": track, "labels": map[string]any{trackLabel: track}}
	}
	subsets := []any{subset(trackStable)}
	route := []any{map[string]any{"destination": map[string]any{"host": host, "subset": trackStable, "port": map[string]any{"number": a.Port}}, "weight": 100}}
	if a.Canary != nil {
		subsets = append(subsets, subset(trackCanary))
		route = []any{
			map[string]any{"destination": map[string]any{"host": host, "subset": trackStable, "port": map[string]any{"number": a.Port}}, "weight": 100 - a.Canary.Weight},
			map[string]any{"destination": map[string]any{"host": host, "subset": trackCanary, "port": map[string]any{"number": a.Port}}, "weight": a.Canary.Weight},
		}
	}
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(a.Name), Namespace: pulumi.String(a.Namespace), Labels: b.labels(nil)}
	if _, err := apiextensions.NewCustomResource(b.ctx, b.name+"-destination", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("networking.istio.io/v1"),
		Kind:       pulumi.String("DestinationRule"),
		Metadata:   meta,
		OtherFields: map[string]any{"spec": map[string]any{
			"host": host,
			"trafficPolicy": map[string]any{
				"tls": map[string]any{"mode": "ISTIO_MUTUAL"},
				"connectionPool": map[string]any{
					"tcp":  map[string]any{"maxConnections": 200, "connectTimeout": "2s"},
					"http": map[string]any{"http1MaxPendingRequests": 200, "http2MaxRequests": 1000, "idleTimeout": "60s"},
				},
				"outlierDetection": map[string]any{
					"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 50,
				},
			},
			"subsets": subsets,
		}},
	}, b.opts...); err != nil {
		return err
	}
	httpRoute := map[string]any{"route": route, "timeout": a.Timeout}
	if a.Retries > 0 {
		httpRoute["retries"] = map[string]any{
			"attempts": a.Retries, "perTryTimeout": a.Timeout,
			// Only failures where the request surely did not run: safe for commands too.
			"retryOn": "connect-failure,refused-stream,reset,503",
		}
	}
	_, err := apiextensions.NewCustomResource(b.ctx, b.name+"-routing", &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String("networking.istio.io/v1"),
		Kind:        pulumi.String("VirtualService"),
		Metadata:    meta,
		OtherFields: map[string]any{"spec": map[string]any{"hosts": []any{host}, "http": []any{httpRoute}}},
	}, b.opts...)
	return err
}

func (b *builder) routes() error {
	a := b.args
	for _, r := range a.Routes {
		if _, err := a.Kong.Route(b.ctx, b.name+"-route-"+routeKey(r), a.routeArgs(r), b.opts...); err != nil {
			return err
		}
	}
	return nil
}

// routeArgs is how one of the service's routes is published on Kong.
func (a Args) routeArgs(r Route) kong.RouteArgs {
	return kong.RouteArgs{
		Name:      a.Name + "-" + routeKey(r),
		Namespace: a.Namespace, Service: a.Name, Port: a.Port,
		Hosts: r.Hosts, Paths: r.Paths, StripPath: r.StripPath, Plugins: r.Plugins,
	}
}

func (b *builder) monitoring() error {
	a := b.args
	_, err := observability.NewServiceMonitor(b.ctx, b.name+"-metrics", observability.ServiceMonitorArgs{
		Namespace: a.Namespace, Selector: b.selector(), Port: "metrics", Path: "/metrics", Labels: a.Labels,
	}, b.opts...)
	return err
}

// routeKey names a route by its first path, so names stay stable when routes are added or
// reordered.
func routeKey(r Route) string {
	if k := slug(r.Paths[0]); k != "" {
		return k
	}
	return "root"
}

func slug(path string) string {
	out := make([]byte, 0, len(path))
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			out = append(out, c)
		case c >= 'A' && c <= 'Z':
			out = append(out, c+'a'-'A')
		case len(out) > 0 && out[len(out)-1] != '-':
			out = append(out, '-')
		}
	}
	for len(out) > 0 && out[len(out)-1] == '-' {
		out = out[:len(out)-1]
	}
	return string(out)
}
