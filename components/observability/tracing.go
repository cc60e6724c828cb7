package observability

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
)

// Tempo is the tempo-distributed chart 2.13.0 (Grafana Tempo 2.10.3), the durable tracing
// backend: trace blocks in object storage, ingesters replicating each span. Tempo 3 (chart 3.x)
// needs a Kafka of its own and is not used.
var Tempo = chart.Spec{Name: "tempo-distributed", Version: "2.13.0", Repo: "https://grafana.github.io/helm-charts"}

// tempoDistributorLabels are the labels of the distributor pods, which take OTLP: the chart's
// tempo.selectorLabels (templates/_helpers.tpl) for release "tempo", component "distributor".
var tempoDistributorLabels = map[string]string{
	"app.kubernetes.io/name":      "tempo",
	"app.kubernetes.io/instance":  "tempo",
	"app.kubernetes.io/component": "distributor",
}

// tempoQueryPort is the query-frontend's HTTP port, Grafana's Tempo datasource.
const tempoQueryPort = 3200

// tempo installs Tempo in microservices mode on the traces bucket: distributors take OTLP from
// the mesh, ingesters keep recent spans (replicated three ways when HA) and write blocks to
// the bucket, queriers and the query frontend serve Grafana, the compactor enforces retention.
// It returns the OTLP host and the query URL.
func tempo(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (otlpHost, queryURL string, err error) {
	access, err := accessFor(ctx, name+"-tempo-object-store", args.Namespace, "tempo-object-store", args.Traces, args.Labels, opts...)
	if err != nil {
		return "", "", fmt.Errorf("traces bucket: %w", err)
	}
	replicas, stateless, replication := 1, 1, 1
	if args.HA {
		// Three ingesters with replication factor 3 survive the loss of one, and of a zone.
		replicas, stateless, replication = 3, 2, 3
	}
	s3 := pulumi.Map{
		"bucket":         args.Traces.Bucket,
		"endpoint":       pulumi.String(access.host),
		"region":         pulumi.String(args.Traces.Region),
		"insecure":       pulumi.Bool(access.insecure),
		"forcepathstyle": pulumi.Bool(args.Traces.PathStyle),
	}
	if access.keys {
		s3["access_key"] = pulumi.String("${AWS_ACCESS_KEY_ID}")
		s3["secret_key"] = pulumi.String("${AWS_SECRET_ACCESS_KEY}")
	}
	global := pulumi.Map{}
	if args.ImageMirror != "" {
		global["image"] = pulumi.Map{"registry": pulumi.String(chart.Registry(args.ImageMirror, "docker.io"))}
	}
	values := pulumi.Map{
		"fullnameOverride": pulumi.String("tempo"),
		"global":           global,
		// No usage reports to Grafana Labs: air-gapped installs have no route out anyway.
		"reportingEnabled": pulumi.Bool(false),
		"serviceAccount": pulumi.Map{
			"create": pulumi.Bool(true), "name": pulumi.String(TempoServiceAccount), "annotations": access.annotations,
		},
		"tempo": pulumi.Map{
			"podSecurityContext": pulumi.Map{
				"fsGroup":        pulumi.Int(1000),
				"seccompProfile": pulumi.Map{"type": pulumi.String("RuntimeDefault")},
			},
		},
		"traces": pulumi.Map{"otlp": pulumi.Map{
			"grpc": pulumi.Map{"enabled": pulumi.Bool(true)},
			"http": pulumi.Map{"enabled": pulumi.Bool(true)},
		}},
		"storage": pulumi.Map{"trace": pulumi.Map{"backend": pulumi.String("s3"), "s3": s3}},
		"distributor": access.component(pulumi.Map{
			"replicas":  pulumi.Int(replicas),
			"resources": resources("100m", "256Mi", "1", "1Gi"),
		}),
		"ingester": access.component(pulumi.Map{
			"replicas": pulumi.Int(replicas),
			"config":   pulumi.Map{"replication_factor": pulumi.Int(replication)},
			// The write-ahead log survives a restart, so spans not yet in a block are kept.
			"persistence": pulumi.Map{"enabled": pulumi.Bool(true), "storageClass": pulumi.String(args.StorageClass), "size": pulumi.String("10Gi")},
			"resources":   resources("200m", "1Gi", "2", "4Gi"),
		}),
		"querier":       access.component(pulumi.Map{"replicas": pulumi.Int(stateless), "resources": resources("100m", "512Mi", "1", "2Gi")}),
		"queryFrontend": access.component(pulumi.Map{"replicas": pulumi.Int(stateless), "resources": resources("100m", "256Mi", "1", "1Gi")}),
		"compactor": access.component(pulumi.Map{
			"replicas":  pulumi.Int(1),
			"config":    pulumi.Map{"compaction": pulumi.Map{"block_retention": pulumi.String(fmt.Sprintf("%dh", args.TraceRetentionDays*24))}},
			"resources": resources("100m", "512Mi", "1", "2Gi"),
		}),
		"memcached": pulumi.Map{
			"enabled": pulumi.Bool(true), "replicas": pulumi.Int(stateless),
			"resources": resources("50m", "128Mi", "500m", "512Mi"),
		},
		"metricsGenerator": pulumi.Map{"enabled": pulumi.Bool(false)},
		"gateway":          pulumi.Map{"enabled": pulumi.Bool(false)},
		"minio":            pulumi.Map{"enabled": pulumi.Bool(false)},
	}
	if _, err := chart.Install(ctx, name+"-tempo", Tempo, args.Charts, chart.Args{
		Namespace: args.Namespace, Release: "tempo", Values: values, Labels: args.Labels,
	}, append(opts, access.after())...); err != nil {
		return "", "", err
	}
	return fmt.Sprintf("tempo-distributor.%s.svc.cluster.local", args.Namespace),
		fmt.Sprintf("http://tempo-query-frontend.%s.svc.cluster.local:%d", args.Namespace, tempoQueryPort), nil
}
