// Package postgres gives each service its own PostgreSQL database: a CloudNativePG cluster in
// the Kubernetes cluster, or an RDS instance on AWS. Either way the service gets the same
// database.Endpoint and a Kubernetes Secret in its namespace, and never knows where it runs.
package postgres

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/components/database"
	"github.com/groundwork/groundwork/infra"
)

// Modes, the values of Args.Mode.
const (
	// ModeInCluster runs each database as a CloudNativePG Cluster.
	ModeInCluster = "in-cluster"
	// ModeRDS runs each database as an RDS PostgreSQL instance (AWS only).
	ModeRDS = "rds"
)

// Port is PostgreSQL's port, in the cluster and on RDS.
const Port = 5432

// Database is one service's database.
type Database struct {
	// Name is the service name (required, a DNS label of at most 40 characters). The
	// database is <name>_db and its owner <name>_app, with '-' turned into '_'.
	Name string
	// Namespace is the service's namespace, where its credentials Secret is written (required).
	Namespace string
	// StorageSize, e.g. "10Gi", overrides Args.StorageSize for this database in the cluster;
	// on RDS the instance gets at least this much. Empty keeps the component's size.
	StorageSize string
}

// storageGiB is a size like 10Gi in whole GiB, rounded up.
func storageGiB(size string) int {
	m := quantity.FindStringSubmatch(size)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(size, "Mi"), "Gi"), "Ti"))
	switch m[1] {
	case "Mi":
		return (n + 1023) / 1024
	case "Ti":
		return n * 1024
	}
	return n
}

// Backup sends base backups and WAL to an S3-compatible object store (in-cluster only). Each
// database cluster writes under s3://<Bucket>/<Prefix>/<cluster>, so their WAL never mix.
type Backup struct {
	// Bucket is the bucket's name (required); Prefix the folder in it, e.g. "postgres"
	// (required).
	Bucket pulumi.StringInput
	Prefix string
	// EndpointURL is the S3 endpoint for stores other than AWS S3 (OpenStack Swift, MinIO).
	EndpointURL string
	// CredentialsSecret is a Secret in Args.Namespace with the keys ACCESS_KEY_ID and
	// ACCESS_SECRET_KEY, created outside this component. Required unless IAMRole is set.
	CredentialsSecret string
	// IAMRole (AWS) is a role the database pods assume through their service account (IRSA)
	// instead of keys: the clusters' service accounts, named after the clusters
	// (ClusterName), must be the ones it trusts.
	IAMRole pulumi.StringInput
	// RetentionPolicy is how long backups are kept, e.g. "30d"; default "30d".
	RetentionPolicy string
	// Schedule is the six-field cron schedule of base backups; default "0 0 2 * * *".
	Schedule string
}

// RDSArgs size the RDS instances (ModeRDS).
type RDSArgs struct {
	// InstanceClass defaults to "db.t4g.micro".
	InstanceClass string
	// EngineVersion is the PostgreSQL major ("17"); RDS picks and upgrades the minor. Default
	// DefaultEngineVersion.
	EngineVersion string
	// AllocatedStorage is the initial storage in GiB (at least 20); default 20. Storage grows
	// automatically up to four times that.
	AllocatedStorage int
	// MultiAZ keeps a synchronous standby in another zone (prod).
	MultiAZ bool
	// DeletionProtection refuses deletion of the instance (prod); a final snapshot is taken.
	DeletionProtection bool
	// BackupRetentionDays is how long automated backups are kept (1..35); default 7.
	BackupRetentionDays int
}

// Args configure the databases. Plain values shape the graph; the Network's IDs are Outputs.
type Args struct {
	// After are resources every object of the component waits for, e.g. its namespace. A
	// component's own dependencies do not reach its children, so they are passed here.
	After []pulumi.Resource
	// Mode is ModeInCluster (default) or ModeRDS.
	Mode string
	// Namespace holds the operator and the clusters (in-cluster; required there, created by
	// the caller).
	Namespace string
	// Databases are the services' databases.
	Databases []Database
	// Instances is the number of PostgreSQL instances per cluster (in-cluster): 1 in dev, 3
	// in prod (a primary and two standbys, one per zone).
	Instances int
	// Zones are the cluster's zones: with as many zones as instances, instances are required
	// to run in different zones, else only preferred to.
	Zones []string
	// StorageClass is the volumes' StorageClass (in-cluster, required).
	StorageClass string
	// StorageSize is the volume per instance, e.g. "10Gi"; default "5Gi".
	StorageSize string
	// CPU and Memory are each instance's resource requests; defaults "250m" and "512Mi".
	// Memory is also the limit.
	CPU    string
	Memory string
	// CPULimit caps each instance's CPU; default "1".
	CPULimit string
	// Backup, when set, sends backups to object storage (in-cluster).
	Backup *Backup
	// Image is the PostgreSQL image; default DefaultImage.
	Image string
	// ChartSource is where the operator chart comes from; the zero value is chart.Remote.
	ChartSource chart.Source
	// ImageMirror, when set, replaces the registry of every image (air-gapped clusters).
	ImageMirror string

	// Network is the base layer's network (required in ModeRDS).
	Network *infra.Network
	// Tags are the ownership tags of AWS resources (ModeRDS).
	Tags infra.Tags
	// RDS sizes the RDS instances (ModeRDS).
	RDS RDSArgs
}

// Postgres is the set of databases.
type Postgres struct {
	pulumi.ResourceState
	after []pulumi.Resource

	// Endpoints maps a service name to its database.
	Endpoints map[string]database.Endpoint
}

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	quantity   = regexp.MustCompile(`^[1-9][0-9]*(Mi|Gi|Ti)$`)
	cpuRequest = regexp.MustCompile(`^([1-9][0-9]*m|[0-9]+(\.[0-9]+)?)$`)
	retention  = regexp.MustCompile(`^[1-9][0-9]*[dwm]$`)
	cron6      = regexp.MustCompile(`^\S+( \S+){5}$`)
	prefix     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9/]*[a-z0-9])?$`)
)

func (a Args) withDefaults() Args {
	if a.Mode == "" {
		a.Mode = ModeInCluster
	}
	if a.ChartSource.Kind == "" {
		a.ChartSource.Kind = chart.SourceRemote
	}
	if a.StorageSize == "" {
		a.StorageSize = "5Gi"
	}
	if a.CPU == "" {
		a.CPU = "250m"
	}
	if a.Memory == "" {
		a.Memory = "512Mi"
	}
	if a.CPULimit == "" {
		a.CPULimit = "1"
	}
	if a.Image == "" {
		a.Image = DefaultImage
	}
	if a.Backup != nil {
		b := *a.Backup
		if b.RetentionPolicy == "" {
			b.RetentionPolicy = "30d"
		}
		if b.Schedule == "" {
			b.Schedule = "0 0 2 * * *"
		}
		a.Backup = &b
	}
	if a.RDS.InstanceClass == "" {
		a.RDS.InstanceClass = "db.t4g.micro"
	}
	if a.RDS.EngineVersion == "" {
		a.RDS.EngineVersion = DefaultEngineVersion
	}
	if a.RDS.AllocatedStorage == 0 {
		a.RDS.AllocatedStorage = 20
	}
	if a.RDS.BackupRetentionDays == 0 {
		a.RDS.BackupRetentionDays = 7
	}
	return a
}

func (a Args) validate() error {
	var errs []error
	bad := func(format string, v ...any) { errs = append(errs, fmt.Errorf(format, v...)) }
	switch a.Mode {
	case ModeInCluster:
		if !dnsLabel.MatchString(a.Namespace) {
			bad("postgres: namespace %q is not a DNS label (lowercase letters, digits and '-')", a.Namespace)
		}
		if a.Instances < 1 || a.Instances > 9 {
			bad("postgres: instances is %d; allowed 1..9 (1 in dev, 3 in prod)", a.Instances)
		}
		if a.StorageClass == "" {
			bad("postgres: storageClass is empty; want the cluster's StorageClass name")
		}
		if !quantity.MatchString(a.StorageSize) {
			bad("postgres: storageSize %q is not a size like 10Gi (Mi, Gi or Ti)", a.StorageSize)
		}
		if !cpuRequest.MatchString(a.CPU) {
			bad("postgres: cpu %q is not a CPU quantity like 250m or 2", a.CPU)
		}
		if !cpuRequest.MatchString(a.CPULimit) {
			bad("postgres: cpuLimit %q is not a CPU quantity like 250m or 2", a.CPULimit)
		}
		if !quantity.MatchString(a.Memory) {
			bad("postgres: memory %q is not a size like 512Mi (Mi, Gi or Ti)", a.Memory)
		}
		if b := a.Backup; b != nil {
			if b.Bucket == nil {
				bad("postgres: backup.bucket is required")
			}
			if !prefix.MatchString(b.Prefix) {
				bad("postgres: backup.prefix %q is not a folder name like postgres (lowercase letters, digits, '-' and '/')", b.Prefix)
			}
			if b.EndpointURL != "" && !strings.HasPrefix(b.EndpointURL, "https://") && !strings.HasPrefix(b.EndpointURL, "http://") {
				bad("postgres: backup.endpointURL %q is not an http(s):// URL", b.EndpointURL)
			}
			switch {
			case b.IAMRole != nil && b.CredentialsSecret != "":
				bad("postgres: backup has both an IAM role and credentialsSecret %q; set one", b.CredentialsSecret)
			case b.IAMRole == nil && !dnsLabel.MatchString(b.CredentialsSecret):
				bad("postgres: backup.credentialsSecret %q is not a Secret name (or set backup.iamRole)", b.CredentialsSecret)
			}
			if !retention.MatchString(b.RetentionPolicy) {
				bad("postgres: backup.retentionPolicy %q is not a duration like 30d (d, w or m)", b.RetentionPolicy)
			}
			if !cron6.MatchString(b.Schedule) {
				bad("postgres: backup.schedule %q is not a six-field cron schedule (seconds first)", b.Schedule)
			}
		}
	case ModeRDS:
		if a.Network == nil {
			bad("postgres: mode %s needs the base layer's network; the cloud gives none (use mode %s)", ModeRDS, ModeInCluster)
		}
		if !strings.HasPrefix(a.RDS.InstanceClass, "db.") {
			bad("postgres: rds.instanceClass %q is not an RDS instance class like db.t4g.micro", a.RDS.InstanceClass)
		}
		if !majorVersion.MatchString(a.RDS.EngineVersion) {
			// With automatic minor upgrades on, a pinned minor ("17.6") makes the next update
			// plan a downgrade once AWS has upgraded the instance; a major alone lets RDS pick
			// and upgrade the minor (terraform-provider-aws, website/docs/r/db_instance.html.markdown:
			// engine_version "17" with auto_minor_version_upgrade).
			bad("postgres: rds.engineVersion %q pins a minor; RDS upgrades minors itself (autoMinorVersionUpgrade), so give the major only, e.g. %q", a.RDS.EngineVersion, DefaultEngineVersion)
		}
		if a.RDS.AllocatedStorage < 20 || a.RDS.AllocatedStorage > 65536 {
			bad("postgres: rds.allocatedStorage is %d GiB; allowed 20..65536", a.RDS.AllocatedStorage)
		}
		if a.RDS.BackupRetentionDays < 1 || a.RDS.BackupRetentionDays > 35 {
			bad("postgres: rds.backupRetentionDays is %d; allowed 1..35", a.RDS.BackupRetentionDays)
		}
		if a.Backup != nil {
			bad("postgres: backup is for mode %s; RDS keeps its own automated backups (rds.backupRetentionDays)", ModeInCluster)
		}
	default:
		bad("postgres: mode %q is not supported; allowed: %s, %s", a.Mode, ModeInCluster, ModeRDS)
	}
	seen := map[string]bool{}
	for _, d := range a.Databases {
		if !dnsLabel.MatchString(d.Name) || len(d.Name) > 40 {
			bad("postgres: database name %q is not a DNS label of at most 40 characters", d.Name)
		} else if !strings.ContainsAny(d.Name[:1], "abcdefghijklmnopqrstuvwxyz") {
			bad("postgres: database name %q must start with a letter", d.Name)
		}
		if seen[d.Name] {
			bad("postgres: database %q is declared twice", d.Name)
		}
		seen[d.Name] = true
		if !dnsLabel.MatchString(d.Namespace) {
			bad("postgres: database %q: namespace %q is not a DNS label", d.Name, d.Namespace)
		}
		if d.StorageSize != "" && !quantity.MatchString(d.StorageSize) {
			bad("postgres: database %q: storageSize %q is not a size like 10Gi (Mi, Gi or Ti)", d.Name, d.StorageSize)
		}
	}
	return errors.Join(errs...)
}

// New creates one database per service. The Kubernetes provider comes in through opts.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Postgres, error) {
	args = args.withDefaults()
	if err := args.validate(); err != nil {
		return nil, err
	}
	p := &Postgres{Endpoints: map[string]database.Endpoint{}, after: args.After}
	if err := ctx.RegisterComponentResource("groundwork:platform:Postgres", name, p, opts...); err != nil {
		return nil, err
	}
	var err error
	if args.Mode == ModeRDS {
		err = newRDS(ctx, name, args, p)
	} else {
		err = newCNPG(ctx, name, args, p)
	}
	if err != nil {
		return nil, err
	}
	hosts := pulumi.StringMap{}
	for svc, e := range p.Endpoints {
		hosts[svc] = e.Host
	}
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{"hosts": hosts}); err != nil {
		return nil, err
	}
	return p, nil
}

// dbName and roleName turn a service name into PostgreSQL identifiers that need no quoting and
// are never reserved words: the seed's "user" service would otherwise be named USER, which
// PostgreSQL and RDS refuse.
func dbName(service string) string   { return strings.ReplaceAll(service, "-", "_") + "_db" }
func roleName(service string) string { return strings.ReplaceAll(service, "-", "_") + "_app" }

// newPassword generates a password without characters RDS or URIs reject; the random
// provider keeps it secret.
func newPassword(ctx *pulumi.Context, name string, parent pulumi.Resource) (pulumi.StringOutput, error) {
	pw, err := random.NewRandomPassword(ctx, name, &random.RandomPasswordArgs{
		Length:  pulumi.Int(32),
		Special: pulumi.Bool(false),
	}, pulumi.Parent(parent), pulumi.AdditionalSecretOutputs([]string{"result"}))
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("postgres password %s: %w", name, err)
	}
	return pulumi.ToSecret(pw.Result).(pulumi.StringOutput), nil
}

// clientSecret writes a service's connection details into its namespace and returns its
// Endpoint.
func clientSecret(ctx *pulumi.Context, name string, d Database, host pulumi.StringOutput, port pulumi.IntOutput, password pulumi.StringOutput, labels pulumi.StringMap, parent pulumi.Resource) (database.Endpoint, error) {
	user, db := roleName(d.Name), dbName(d.Name)
	secretName := d.Name + "-postgres"
	uri := pulumi.ToSecret(pulumi.Sprintf("postgresql://%s:%s@%s:%d/%s?sslmode=require", user, password, host, port, db)).(pulumi.StringOutput)
	if _, err := corev1.NewSecret(ctx, name+"-"+d.Name+"-client", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(secretName), Namespace: pulumi.String(d.Namespace), Labels: labels,
		},
		Type: pulumi.String("kubernetes.io/basic-auth"),
		StringData: pulumi.StringMap{
			database.KeyHost:     host,
			database.KeyPort:     pulumi.Sprintf("%d", port),
			database.KeyDatabase: pulumi.String(db),
			database.KeyUsername: pulumi.String(user),
			database.KeyPassword: password,
			database.KeyURI:      uri,
		},
	}, pulumi.Parent(parent)); err != nil {
		return database.Endpoint{}, fmt.Errorf("postgres %s client secret: %w", d.Name, err)
	}
	return database.Endpoint{
		Host:            host,
		Port:            port,
		Database:        pulumi.String(db).ToStringOutput(),
		SecretName:      pulumi.String(secretName).ToStringOutput(),
		SecretNamespace: d.Namespace,
		TLS:             true,
	}, nil
}

func labels(tags infra.Tags, service string) pulumi.StringMap {
	l := tags.Labels("postgres")
	l["app.kubernetes.io/name"] = pulumi.String("postgres")
	l["app.kubernetes.io/instance"] = pulumi.String(service)
	return l
}

// child is the option every object of the component is created with: parented to it, and
// waiting for what the component waits for.
func (p *Postgres) child() pulumi.ResourceOption {
	return pulumi.Composite(pulumi.Parent(p), chart.DependsOn(p.after))
}
