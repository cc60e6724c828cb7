package observability

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
)

// The log pipeline, installed when Args.Logs is set: Loki stores, Alloy collects.
var (
	// Loki is the loki chart 6.47.0 (Loki 3.5.7) from grafana/loki, the newest release whose
	// values the component was written against. The chart's later releases come from
	// grafana-community/helm-charts with renamed modes and persistence settings.
	Loki = chart.Spec{Name: "loki", Version: "6.47.0", Repo: "https://grafana.github.io/helm-charts"}
	// Alloy is the alloy chart 1.6.0 (Grafana Alloy v1.13.0), from grafana/alloy.
	Alloy = chart.Spec{Name: "alloy", Version: "1.6.0", Repo: "https://grafana.github.io/helm-charts"}
	// LogCharts are the charts of the log pipeline.
	LogCharts = []chart.Spec{Loki, Alloy}
	// LogAPIVersions are the custom resources the Alloy chart installs (chart.Source.For).
	LogAPIVersions = []string{"monitoring.grafana.com/v1alpha2/PodLogs"}
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
  clustering {
    enabled = %t
  }
}

loki.write "default" {
  endpoint {
    url = "%s"
  }
}
`

// logs installs Loki and Alloy as the collector, and returns Loki's query URL for Grafana.
//
// Loki's shape follows its storage: with a bucket and HA, the simple scalable mode (three
// writers, readers and backends on different nodes, every stream written three times); with a
// bucket alone, one process on it; without one (a dev stack on a cloud with no object storage),
// one process on a volume.
func logs(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (string, error) {
	svc := func(component string) string {
		return fmt.Sprintf("http://%s.%s.svc.cluster.local:%d", component, args.Namespace, lokiPort)
	}
	volume := func(size string) pulumi.Map {
		return pulumi.Map{"volumeClaimsEnabled": pulumi.Bool(true), "storageClass": pulumi.String(args.StorageClass), "size": pulumi.String(size)}
	}
	objectStore := "filesystem"
	loki := pulumi.Map{
		"auth_enabled":  pulumi.Bool(false),
		"commonConfig":  pulumi.Map{"replication_factor": pulumi.Int(1)},
		"storage":       pulumi.Map{"type": pulumi.String("filesystem")},
		"limits_config": pulumi.Map{"retention_period": pulumi.String(fmt.Sprintf("%dh", args.LogRetentionDays*24))},
	}
	values := pulumi.Map{
		"deploymentMode": pulumi.String("SingleBinary"),
		"serviceAccount": pulumi.Map{"create": pulumi.Bool(true), "name": pulumi.String(LokiServiceAccount)},
		"singleBinary": pulumi.Map{
			"replicas":    pulumi.Int(1),
			"persistence": pulumi.Map{"enabled": pulumi.Bool(true), "storageClass": pulumi.String(args.StorageClass), "size": pulumi.String(args.LogStorageSize)},
			"resources":   resources("200m", "512Mi", "2", "2Gi"),
		},
		"write": pulumi.Map{"replicas": pulumi.Int(0)}, "read": pulumi.Map{"replicas": pulumi.Int(0)}, "backend": pulumi.Map{"replicas": pulumi.Int(0)},
		// The caches' defaults reserve 9 GiB of memory; the ruler is unused (alerts are
		// Prometheus's); the gateway, canary and chart tests are not needed inside the cluster.
		"chunksCache": pulumi.Map{"enabled": pulumi.Bool(false)}, "resultsCache": pulumi.Map{"enabled": pulumi.Bool(false)},
		"ruler":      pulumi.Map{"enabled": pulumi.Bool(false)},
		"gateway":    pulumi.Map{"enabled": pulumi.Bool(false)},
		"minio":      pulumi.Map{"enabled": pulumi.Bool(false)},
		"lokiCanary": pulumi.Map{"enabled": pulumi.Bool(false)},
		"test":       pulumi.Map{"enabled": pulumi.Bool(false)},
	}
	if args.ImageMirror != "" {
		// Loki's own image helper reads global.image.registry, the others global.imageRegistry
		// (loki 6.47.0 templates/_helpers.tpl, loki.lokiImage and loki.baseImage).
		mirror := pulumi.String(chart.Registry(args.ImageMirror, "docker.io"))
		values["global"] = pulumi.Map{"imageRegistry": mirror, "image": pulumi.Map{"registry": mirror}}
		// The rules sidecar's repository names its registry (docker.io/kiwigrid/k8s-sidecar):
		// under a mirror it is the path alone, as for every other image.
		values["sidecar"] = pulumi.Map{"image": pulumi.Map{"repository": pulumi.String("kiwigrid/k8s-sidecar")}}
	}
	pushURL, queryURL := svc("loki"), svc("loki")
	var deps []pulumi.ResourceOption
	if store := args.LogStore; store != nil {
		access, err := accessFor(ctx, name+"-loki-object-store", args.Namespace, "loki-object-store", store, args.Labels, opts...)
		if err != nil {
			return "", fmt.Errorf("logs bucket: %w", err)
		}
		deps = append(deps, access.after())
		objectStore = "s3"
		values["serviceAccount"].(pulumi.Map)["annotations"] = access.annotations
		s3 := pulumi.Map{
			"endpoint": pulumi.String(access.host), "region": pulumi.String(store.Region),
			"s3ForcePathStyle": pulumi.Bool(store.PathStyle), "insecure": pulumi.Bool(access.insecure),
		}
		if access.keys {
			s3["accessKeyId"] = pulumi.String("${AWS_ACCESS_KEY_ID}")
			s3["secretAccessKey"] = pulumi.String("${AWS_SECRET_ACCESS_KEY}")
		}
		loki["storage"] = pulumi.Map{
			"type":        pulumi.String("s3"),
			"bucketNames": pulumi.Map{"chunks": store.Bucket, "ruler": store.Bucket, "admin": store.Bucket},
			"s3":          s3,
		}
		if args.HA {
			values["deploymentMode"] = pulumi.String("SimpleScalable")
			loki["commonConfig"] = pulumi.Map{"replication_factor": pulumi.Int(3)}
			values["singleBinary"] = pulumi.Map{"replicas": pulumi.Int(0)}
			spread := func(component string) pulumi.Array {
				return spreadBy(args.Zones, map[string]string{"app.kubernetes.io/name": "loki", "app.kubernetes.io/component": component})
			}
			values["write"] = access.component(pulumi.Map{
				"replicas": pulumi.Int(3), "persistence": volume("20Gi"), "resources": resources("200m", "1Gi", "2", "4Gi"),
				"topologySpreadConstraints": spread("write"),
			})
			values["read"] = access.component(pulumi.Map{
				"replicas": pulumi.Int(3), "resources": resources("200m", "512Mi", "2", "4Gi"), "topologySpreadConstraints": spread("read"),
			})
			values["backend"] = access.component(pulumi.Map{
				"replicas": pulumi.Int(3), "persistence": volume("10Gi"), "resources": resources("100m", "512Mi", "1", "2Gi"),
				"topologySpreadConstraints": spread("backend"),
			})
			pushURL, queryURL = svc("loki-write"), svc("loki-read")
		} else {
			values["singleBinary"] = access.component(values["singleBinary"].(pulumi.Map))
		}
	}
	loki["schemaConfig"] = pulumi.Map{"configs": pulumi.Array{pulumi.Map{
		"from": pulumi.String("2026-01-01"), "store": pulumi.String("tsdb"), "object_store": pulumi.String(objectStore),
		"schema": pulumi.String("v13"), "index": pulumi.Map{"prefix": pulumi.String("loki_index_"), "period": pulumi.String("24h")},
	}}}
	loki["compactor"] = pulumi.Map{"retention_enabled": pulumi.Bool(true), "delete_request_store": pulumi.String(objectStore)}
	values["loki"] = loki

	chartOpts := append(append([]pulumi.ResourceOption{}, opts...), deps...)
	lokiChart, err := chart.Install(ctx, name+"-loki", Loki, args.Charts, chart.Args{Namespace: args.Namespace, Values: values, Labels: args.Labels}, chartOpts...)
	if err != nil {
		return "", err
	}
	collectors := 1
	if args.HA {
		// Two collectors share the pods between them (clustering) and take over each other's.
		collectors = 2
	}
	// Alloy reads pods' logs through the API, so it needs no root and no host: it runs as the
	// image's alloy user (UID 473) on a read-only root, writing its positions to an emptyDir.
	restrictedAs := func(uid int) pulumi.Map {
		sc := restricted()
		sc["runAsNonRoot"], sc["runAsUser"], sc["runAsGroup"] = pulumi.Bool(true), pulumi.Int(uid), pulumi.Int(uid)
		return sc
	}
	controller := pulumi.Map{
		"type": pulumi.String("deployment"), "replicas": pulumi.Int(collectors),
		"volumes": pulumi.Map{"extra": pulumi.Array{pulumi.Map{"name": pulumi.String("storage"), "emptyDir": pulumi.Map{}}}},
	}
	if args.HA {
		controller["podDisruptionBudget"] = pulumi.Map{"enabled": pulumi.Bool(true), "minAvailable": pulumi.Int(1)}
		controller["topologySpreadConstraints"] = zoneSpread(args.Zones, "alloy")
	}
	alloyValues := pulumi.Map{
		"controller": controller,
		"alloy": pulumi.Map{
			// No usage reports to Grafana Labs.
			"enableReporting": pulumi.Bool(false),
			"clustering":      pulumi.Map{"enabled": pulumi.Bool(args.HA)},
			"configMap":       pulumi.Map{"create": pulumi.Bool(true), "content": pulumi.String(fmt.Sprintf(alloyConfig, args.HA, pushURL+"/loki/api/v1/push"))},
			"resources":       resources("100m", "256Mi", "1", "1Gi"),
			"securityContext": restrictedAs(473),
			"storagePath":     pulumi.String("/tmp/alloy"),
			"mounts":          pulumi.Map{"extra": pulumi.Array{pulumi.Map{"name": pulumi.String("storage"), "mountPath": pulumi.String("/tmp/alloy")}}},
		},
		// prometheus-operator's config reloader runs as nobody.
		"configReloader": pulumi.Map{"securityContext": restrictedAs(65534)},
	}
	if args.ImageMirror != "" {
		alloyValues["global"] = pulumi.Map{"image": pulumi.Map{"registry": pulumi.String(chart.Registry(args.ImageMirror, "docker.io"))}}
		// The config reloader is prometheus-operator's, from quay.io.
		alloyValues["configReloader"].(pulumi.Map)["image"] = pulumi.Map{"registry": pulumi.String(chart.Registry(args.ImageMirror, "quay.io"))}
	}
	_, err = chart.Install(ctx, name+"-alloy", Alloy, args.Charts, chart.Args{Namespace: args.Namespace, Values: alloyValues, Labels: args.Labels},
		append(opts, chart.DependsOn([]pulumi.Resource{lokiChart}), lokiChart.After())...)
	return queryURL, err
}
