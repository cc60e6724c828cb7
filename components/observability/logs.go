package observability

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
)

// The log pipeline, installed when Args.Logs is set: Loki stores, Alloy collects.
var (
	// Loki is the loki chart 7.3.0 (Loki 3.6).
	Loki = chart.Spec{Name: "loki", Version: "7.3.0", Repo: "https://grafana.github.io/helm-charts"}
	// Alloy is the alloy chart 1.12.1 (Grafana Alloy 1.12).
	Alloy = chart.Spec{Name: "alloy", Version: "1.12.1", Repo: "https://grafana.github.io/helm-charts"}
	// LogCharts are the charts of the log pipeline.
	LogCharts = []chart.Spec{Loki, Alloy}
)

const lokiPort = 3100

// alloyConfig tails every pod's containers through the Kubernetes API (no host mounts, so the
// collector needs no privileges) and labels lines with namespace, pod, container and app.
const alloyConfig = `discovery.kubernetes "pods" {
  role = "pod"
}

discovery.relabel "pods" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }
  rule {
    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    target_label  = "app"
  }
}

loki.source.kubernetes "pods" {
  targets    = discovery.relabel.pods.output
  forward_to = [loki.write.default.receiver]
}

loki.write "default" {
  endpoint {
    url = "%s"
  }
}
`

// logs installs Loki as a single binary on a persistent volume, with retention, and Alloy as
// the collector, and returns Loki's query URL for Grafana.
func logs(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (string, error) {
	lokiURL := fmt.Sprintf("http://loki.%s.svc.cluster.local:%d", args.Namespace, lokiPort)
	registry := func(upstream string) pulumi.Map {
		if args.ImageMirror == "" {
			return pulumi.Map{}
		}
		return pulumi.Map{"image": pulumi.Map{"registry": pulumi.String(chart.Registry(args.ImageMirror, upstream))}}
	}
	loki, err := chart.Install(ctx, name+"-loki", Loki, args.Charts, chart.Args{Namespace: pulumi.String(args.Namespace), Values: pulumi.Map{
		"global":         registry("docker.io"),
		"deploymentMode": pulumi.String("SingleBinary"),
		"loki": pulumi.Map{
			"auth_enabled": pulumi.Bool(false),
			"commonConfig": pulumi.Map{"replication_factor": pulumi.Int(1)},
			"storage":      pulumi.Map{"type": pulumi.String("filesystem")},
			"schemaConfig": pulumi.Map{"configs": pulumi.Array{pulumi.Map{
				"from": pulumi.String("2026-01-01"), "store": pulumi.String("tsdb"), "object_store": pulumi.String("filesystem"),
				"schema": pulumi.String("v13"), "index": pulumi.Map{"prefix": pulumi.String("loki_index_"), "period": pulumi.String("24h")},
			}}},
			"compactor":     pulumi.Map{"retention_enabled": pulumi.Bool(true), "delete_request_store": pulumi.String("filesystem")},
			"limits_config": pulumi.Map{"retention_period": pulumi.Sprintf("%dh", args.LogRetentionDays*24)},
		},
		"singleBinary": pulumi.Map{
			"replicas":    pulumi.Int(1),
			"persistence": pulumi.Map{"enabled": pulumi.Bool(true), "storageClass": pulumi.String(args.StorageClass), "size": pulumi.String(args.LogStorageSize)},
			"resources": pulumi.Map{
				"requests": pulumi.Map{"cpu": pulumi.String("200m"), "memory": pulumi.String("512Mi")},
				"limits":   pulumi.Map{"cpu": pulumi.String("2"), "memory": pulumi.String("2Gi")},
			},
		},
		// The other deployment modes' components and the caches are off: one process holds it all.
		"read": pulumi.Map{"replicas": pulumi.Int(0)}, "write": pulumi.Map{"replicas": pulumi.Int(0)}, "backend": pulumi.Map{"replicas": pulumi.Int(0)},
		"chunksCache": pulumi.Map{"enabled": pulumi.Bool(false)}, "resultsCache": pulumi.Map{"enabled": pulumi.Bool(false)},
		"gateway":    pulumi.Map{"enabled": pulumi.Bool(false)},
		"minio":      pulumi.Map{"enabled": pulumi.Bool(false)},
		"lokiCanary": pulumi.Map{"enabled": pulumi.Bool(false)},
		"test":       pulumi.Map{"enabled": pulumi.Bool(false)},
	}}, opts...)
	if err != nil {
		return "", err
	}
	_, err = chart.Install(ctx, name+"-alloy", Alloy, args.Charts, chart.Args{Namespace: pulumi.String(args.Namespace), Values: pulumi.Map{
		"global":     registry("docker.io"),
		"controller": pulumi.Map{"type": pulumi.String("deployment"), "replicas": pulumi.Int(1)},
		"alloy": pulumi.Map{
			"configMap": pulumi.Map{"create": pulumi.Bool(true), "content": pulumi.String(fmt.Sprintf(alloyConfig, lokiURL+"/loki/api/v1/push"))},
			"resources": pulumi.Map{
				"requests": pulumi.Map{"cpu": pulumi.String("100m"), "memory": pulumi.String("256Mi")},
				"limits":   pulumi.Map{"cpu": pulumi.String("1"), "memory": pulumi.String("1Gi")},
			},
		},
	}}, append(opts, pulumi.DependsOn([]pulumi.Resource{loki}))...)
	return lokiURL, err
}
