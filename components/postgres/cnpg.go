package postgres

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/infra"
)

// OperatorChart is the CloudNativePG operator: chart 0.29.0, upstream operator release 1.30.0.
var OperatorChart = chart.Spec{
	Name:    "cloudnative-pg",
	Version: "0.29.0",
	Repo:    "https://cloudnative-pg.github.io/charts",
}

// DefaultImage is the PostgreSQL operand image, pinned: PostgreSQL 17.6 from the CloudNativePG
// postgres-containers "standard" flavour on Debian bookworm.
const DefaultImage = "ghcr.io/cloudnative-pg/postgresql:17.6-standard-bookworm"

const (
	cnpgAPI   = "postgresql.cnpg.io/v1"
	zoneKey   = "topology.kubernetes.io/zone"
	hostKey   = "kubernetes.io/hostname"
	operImage = "ghcr.io/cloudnative-pg/cloudnative-pg"
)

// mirrored moves an image reference under the mirror registry, keeping its path.
func mirrored(mirror, image string) string {
	i := strings.LastIndex(image, "/")
	return chart.Registry(mirror, image[:i]) + image[i:]
}

// ClusterName is the CloudNativePG Cluster of a service's database, and the name of its pods'
// service account.
func ClusterName(service string) string { return service + "-pg" }

// newCNPG installs the operator, then one Cluster per service.
func newCNPG(ctx *pulumi.Context, name string, args Args, p *Postgres) error {
	ns := pulumi.String(args.Namespace)
	operator, err := chart.Install(ctx, name+"-operator", OperatorChart, args.ChartSource, chart.Args{
		Namespace: args.Namespace,
		Labels:    args.Tags.LabelMap("postgres-operator"),
		Values: pulumi.Map{
			"image": pulumi.Map{"repository": pulumi.String(mirrored(args.ImageMirror, operImage))},
			"crds":  pulumi.Map{"create": pulumi.Bool(true)},
			"resources": pulumi.Map{
				"requests": pulumi.Map{"cpu": pulumi.String("100m"), "memory": pulumi.String("200Mi")},
				"limits":   pulumi.Map{"cpu": pulumi.String("1"), "memory": pulumi.String("200Mi")},
			},
		},
	}, p.child())
	if err != nil {
		return fmt.Errorf("postgres operator: %w", err)
	}
	afterOperator := chart.DependsOn([]pulumi.Resource{operator})

	for _, d := range args.Databases {
		cluster := ClusterName(d.Name)
		owner := cluster + "-owner"
		user := roleName(d.Name)
		l := labels(args.Tags, d.Name)
		password, err := newPassword(ctx, name+"-"+d.Name+"-password", p)
		if err != nil {
			return err
		}
		// CloudNativePG creates the owner with the password from this basic-auth Secret.
		if _, err := corev1.NewSecret(ctx, name+"-"+d.Name+"-owner", &corev1.SecretArgs{
			Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(owner), Namespace: ns, Labels: l},
			Type:       pulumi.String("kubernetes.io/basic-auth"),
			StringData: pulumi.StringMap{"username": pulumi.String(user), "password": password},
		}, p.child()); err != nil {
			return fmt.Errorf("postgres %s owner secret: %w", d.Name, err)
		}
		spec := pulumi.Map{
			"instances":             pulumi.Int(args.Instances),
			"imageName":             pulumi.String(mirrored(args.ImageMirror, args.Image)),
			"primaryUpdateStrategy": pulumi.String("unsupervised"),
			"enableSuperuserAccess": pulumi.Bool(false),
			"storage": pulumi.Map{
				"size":         pulumi.String(cmp.Or(d.StorageSize, args.StorageSize)),
				"storageClass": pulumi.String(args.StorageClass),
			},
			"resources": pulumi.Map{
				"requests": pulumi.Map{"cpu": pulumi.String(args.CPU), "memory": pulumi.String(args.Memory)},
				"limits":   pulumi.Map{"cpu": pulumi.String(args.CPULimit), "memory": pulumi.String(args.Memory)},
			},
			"affinity": args.affinity(),
			"bootstrap": pulumi.Map{"initdb": pulumi.Map{
				"database": pulumi.String(dbName(d.Name)),
				"owner":    pulumi.String(user),
				"secret":   pulumi.Map{"name": pulumi.String(owner)},
			}},
		}
		if b := args.Backup; b != nil {
			store := pulumi.Map{
				"destinationPath": pulumi.Sprintf("s3://%s/%s/%s", b.Bucket, b.Prefix, cluster),
				"wal":             pulumi.Map{"compression": pulumi.String("gzip")},
				"data":            pulumi.Map{"compression": pulumi.String("gzip")},
			}
			if b.IAMRole != nil {
				// The pods' service account (named after the cluster) assumes the role.
				store["s3Credentials"] = pulumi.Map{"inheritFromIAMRole": pulumi.Bool(true)}
				spec["serviceAccountTemplate"] = pulumi.Map{"metadata": pulumi.Map{
					"annotations": pulumi.StringMap{infra.RoleAnnotation: b.IAMRole},
				}}
			} else {
				store["s3Credentials"] = pulumi.Map{
					"accessKeyId":     pulumi.Map{"name": pulumi.String(b.CredentialsSecret), "key": pulumi.String("ACCESS_KEY_ID")},
					"secretAccessKey": pulumi.Map{"name": pulumi.String(b.CredentialsSecret), "key": pulumi.String("ACCESS_SECRET_KEY")},
				}
			}
			if b.EndpointURL != "" {
				store["endpointURL"] = pulumi.String(b.EndpointURL)
			}
			spec["backup"] = pulumi.Map{"barmanObjectStore": store, "retentionPolicy": pulumi.String(b.RetentionPolicy)}
		}
		c, err := apiextensions.NewCustomResource(ctx, name+"-"+d.Name, &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String(cnpgAPI),
			Kind:        pulumi.String("Cluster"),
			Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(cluster), Namespace: ns, Labels: l},
			OtherFields: kubernetes.UntypedArgs{"spec": spec},
		}, p.child(), afterOperator)
		if err != nil {
			return fmt.Errorf("postgres %s cluster: %w", d.Name, err)
		}
		if b := args.Backup; b != nil {
			if _, err := apiextensions.NewCustomResource(ctx, name+"-"+d.Name+"-backup", &apiextensions.CustomResourceArgs{
				ApiVersion: pulumi.String(cnpgAPI),
				Kind:       pulumi.String("ScheduledBackup"),
				Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(cluster), Namespace: ns, Labels: l},
				OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{
					"schedule":             pulumi.String(b.Schedule),
					"cluster":              pulumi.Map{"name": pulumi.String(cluster)},
					"method":               pulumi.String("barmanObjectStore"),
					"backupOwnerReference": pulumi.String("self"),
				}},
			}, p.child(), chart.DependsOn([]pulumi.Resource{operator, c})); err != nil {
				return fmt.Errorf("postgres %s scheduled backup: %w", d.Name, err)
			}
		}
		host := pulumi.Sprintf("%s-rw.%s.svc", cluster, args.Namespace)
		e, err := clientSecret(ctx, name, d, host, pulumi.Int(Port).ToIntOutput(), password, l, p)
		if err != nil {
			return err
		}
		p.Endpoints[d.Name] = e
	}
	return nil
}

// affinity keeps instances apart: in different zones, required where there are enough zones
// for every instance, preferred otherwise (a smaller cluster still schedules).
func (a Args) affinity() pulumi.Map {
	key := zoneKey
	if len(a.Zones) < 2 {
		key = hostKey
	}
	kind := "preferred"
	if a.Instances > 1 && len(a.Zones) >= a.Instances {
		kind = "required"
	}
	return pulumi.Map{
		"enablePodAntiAffinity": pulumi.Bool(true),
		"topologyKey":           pulumi.String(key),
		"podAntiAffinityType":   pulumi.String(kind),
	}
}

// APIVersions are the custom resources the CloudNativePG chart installs, as group/version/Kind: charts are
// rendered knowing they exist (chart.Source.For), with or without a cluster to ask. The render
// test checks the list against the CRDs the chart ships.
var APIVersions = []string{
	"postgresql.cnpg.io/v1/Backup",
	"postgresql.cnpg.io/v1/Cluster",
	"postgresql.cnpg.io/v1/ClusterImageCatalog",
	"postgresql.cnpg.io/v1/Database",
	"postgresql.cnpg.io/v1/DatabaseRole",
	"postgresql.cnpg.io/v1/FailoverQuorum",
	"postgresql.cnpg.io/v1/ImageCatalog",
	"postgresql.cnpg.io/v1/Pooler",
	"postgresql.cnpg.io/v1/Publication",
	"postgresql.cnpg.io/v1/ScheduledBackup",
	"postgresql.cnpg.io/v1/Subscription",
}
