package tests

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"

	"github.com/groundwork/groundwork/components/database"
	"github.com/groundwork/groundwork/components/postgres"
	"github.com/groundwork/groundwork/infra"
)

const (
	cnpgClusterType = "kubernetes:postgresql.cnpg.io/v1:Cluster"
	cnpgBackupType  = "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"
	rdsInstanceType = "aws:rds/instance:Instance"
)

var pgDatabases = []postgres.Database{
	{Name: "identity", Namespace: "apps"},
	{Name: "user-profile", Namespace: "apps"},
}

func pgDevArgs() postgres.Args {
	return postgres.Args{Namespace: "data", Databases: pgDatabases, Instances: 1, Zones: []string{"eu-west-1a"}, StorageClass: "gp3"}
}

func pgProdArgs() postgres.Args {
	return postgres.Args{
		Namespace: "data", Databases: pgDatabases, Instances: 3,
		Zones:        []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"},
		StorageClass: "gp3", StorageSize: "50Gi", CPU: "1", Memory: "2Gi",
		Backup: &postgres.Backup{Bucket: pulumi.String("acme-backups"), Prefix: "postgres", CredentialsSecret: "backup-s3"},
	}
}

// testNetwork is the base layer's network as infra/aws hands it over.
func testNetwork() *infra.Network {
	return &infra.Network{
		ID:                  pulumi.String("vpc-0a1b2c3d4e5f60718").ToStringOutput(),
		CIDR:                "10.0.0.0/16",
		PrivateSubnetIDs:    pulumi.ToStringArray([]string{"subnet-0aaa", "subnet-0bbb", "subnet-0ccc"}).ToStringArrayOutput(),
		NodeSecurityGroupID: pulumi.String("sg-0nodes0000000000").ToStringOutput(),
	}
}

var testTags = infra.Tags{Project: "groundwork", Stack: "prod", Owner: "platform", Environment: "prod"}

func pgRDSArgs(prod bool) postgres.Args {
	a := postgres.Args{Mode: postgres.ModeRDS, Databases: pgDatabases, Network: testNetwork(), Tags: testTags}
	if prod {
		a.RDS = postgres.RDSArgs{InstanceClass: "db.m7g.large", MultiAZ: true, DeletionProtection: true, BackupRetentionDays: 14}
	}
	return a
}

func runPostgres(t *testing.T, args postgres.Args) (*mocks, *postgres.Postgres) {
	t.Helper()
	args.ChartSource = forTestCluster(args.ChartSource)
	var pg *postgres.Postgres
	m := mustRunComponent(t, func(ctx *pulumi.Context, k8s pulumi.ResourceOption) error {
		var err error
		pg, err = postgres.New(ctx, "postgres", args, k8s)
		return err
	})
	return m, pg
}

func TestPostgresDevIsOneInstancePerService(t *testing.T) {
	m, _ := runPostgres(t, pgDevArgs())
	clusters := m.ofType(cnpgClusterType)
	if got := names(clusters); len(got) != 2 || got[0] != "postgres-identity" || got[1] != "postgres-user-profile" {
		t.Fatalf("clusters = %v; want one per service", got)
	}
	for _, c := range clusters {
		if n := propNum(get(c.Inputs, "spec.instances")); n != 1 {
			t.Errorf("%s instances = %v; want 1 in dev", c.Name, n)
		}
		if propStr(get(c.Inputs, "spec.storage.storageClass")) != "gp3" {
			t.Errorf("%s storage class = %v", c.Name, get(c.Inputs, "spec.storage.storageClass"))
		}
		if get(c.Inputs, "spec.backup").IsObject() {
			t.Errorf("%s has backups without a configured store", c.Name)
		}
	}
	u := m.byName(t, cnpgClusterType, "postgres-user-profile")
	if db, owner := propStr(get(u.Inputs, "spec.bootstrap.initdb.database")), propStr(get(u.Inputs, "spec.bootstrap.initdb.owner")); db != "user_profile_db" || owner != "user_profile_app" {
		t.Errorf("database/owner = %q/%q; want user_profile_db/user_profile_app (no quoting, no reserved word)", db, owner)
	}
	if len(m.ofType(cnpgBackupType)) != 0 {
		t.Error("scheduled backups without a store")
	}
}

func TestPostgresProdIsThreeInstancesInThreeZonesWithBackups(t *testing.T) {
	m, _ := runPostgres(t, pgProdArgs())
	for _, c := range m.ofType(cnpgClusterType) {
		if n := propNum(get(c.Inputs, "spec.instances")); n != 3 {
			t.Errorf("%s instances = %v; want 3", c.Name, n)
		}
		aff := get(c.Inputs, "spec.affinity").ObjectValue()
		if aff["topologyKey"].StringValue() != "topology.kubernetes.io/zone" || aff["podAntiAffinityType"].StringValue() != "required" || !aff["enablePodAntiAffinity"].BoolValue() {
			t.Errorf("%s affinity = %v; want required anti-affinity across zones", c.Name, aff)
		}
		if propStr(get(c.Inputs, "spec.resources.limits.cpu")) == "" || propStr(get(c.Inputs, "spec.resources.limits.memory")) != "2Gi" {
			t.Errorf("%s limits = %v; want cpu and memory capped", c.Name, get(c.Inputs, "spec.resources.limits"))
		}
		if propStr(get(c.Inputs, "spec.resources.requests.memory")) != "2Gi" || propStr(get(c.Inputs, "spec.resources.requests.cpu")) != "1" {
			t.Errorf("%s resource requests = %v", c.Name, get(c.Inputs, "spec.resources"))
		}
		dest := propStr(get(c.Inputs, "spec.backup.barmanObjectStore.destinationPath"))
		if !strings.HasPrefix(dest, "s3://acme-backups/postgres/") {
			t.Errorf("%s backup destination = %q", c.Name, dest)
		}
		if propStr(get(c.Inputs, "spec.backup.retentionPolicy")) != "30d" {
			t.Errorf("%s retention = %v", c.Name, get(c.Inputs, "spec.backup.retentionPolicy"))
		}
	}
	a := m.byName(t, cnpgClusterType, "postgres-identity")
	b := m.byName(t, cnpgClusterType, "postgres-user-profile")
	if get(a.Inputs, "spec.backup.barmanObjectStore.destinationPath") == get(b.Inputs, "spec.backup.barmanObjectStore.destinationPath") {
		t.Error("two clusters back up to the same path")
	}
	sb := m.byName(t, cnpgBackupType, "postgres-identity-backup")
	if !m.dependsOn(sb, cnpgClusterType, "postgres-identity") || propStr(get(sb.Inputs, "spec.cluster.name")) != "identity-pg" {
		t.Errorf("scheduled backup is not tied to its cluster: %v", sb.Inputs)
	}
}

func TestPostgresFewerZonesThanInstancesOnlyPrefersSpreading(t *testing.T) {
	args := pgProdArgs()
	args.Zones = []string{"zone-a", "zone-b"}
	m, _ := runPostgres(t, args)
	aff := get(m.byName(t, cnpgClusterType, "postgres-identity").Inputs, "spec.affinity").ObjectValue()
	if aff["podAntiAffinityType"].StringValue() != "preferred" {
		t.Errorf("3 instances in 2 zones must not be required apart (one would never schedule): %v", aff)
	}
}

func TestPostgresDatabaseStorageOverridesTheDefault(t *testing.T) {
	dbs := []postgres.Database{{Name: "identity", Namespace: "apps", StorageSize: "100Gi"}, {Name: "tenant", Namespace: "apps"}}
	in := pgDevArgs()
	in.Databases = dbs
	m, _ := runPostgres(t, in)
	for name, want := range map[string]string{"postgres-identity": "100Gi", "postgres-tenant": "5Gi"} {
		if got := propStr(get(m.byName(t, cnpgClusterType, name).Inputs, "spec.storage.size")); got != want {
			t.Errorf("%s storage = %q; want %s", name, got, want)
		}
	}
	rds := pgRDSArgs(false)
	rds.Databases = dbs
	m, _ = runPostgres(t, rds)
	for name, want := range map[string]float64{"postgres-identity": 100, "postgres-tenant": 20} {
		r := m.byName(t, rdsInstanceType, name)
		if got := r.Inputs["allocatedStorage"].NumberValue(); got != want || r.Inputs["maxAllocatedStorage"].NumberValue() != 4*want {
			t.Errorf("%s allocated/max storage = %v/%v; want %v/%v", name, got, r.Inputs["maxAllocatedStorage"], want, 4*want)
		}
	}
}

func TestPostgresInstallsTheOperatorBeforeClusters(t *testing.T) {
	m, _ := runPostgres(t, pgProdArgs())
	c := m.ofType(chartType)
	if len(c) != 1 || propStr(c[0].Inputs["chart"]) != "cloudnative-pg" || propStr(c[0].Inputs["version"]) != "0.29.0" ||
		propStr(get(c[0].Inputs, "repo")) != "https://cloudnative-pg.github.io/charts" {
		t.Fatalf("operator chart = %v", c)
	}
	for _, typ := range []string{cnpgClusterType, cnpgBackupType} {
		for _, r := range m.ofType(typ) {
			if !m.dependsOn(r, chartType, "postgres-operator") {
				t.Errorf("%s %s does not depend on the operator chart", typ, r.Name)
			}
		}
	}
}

func TestPostgresImagesFollowTheMirror(t *testing.T) {
	args := pgDevArgs()
	args.ImageMirror = "mirror.internal"
	m, _ := runPostgres(t, args)
	if got := propStr(get(m.ofType(chartType)[0].Inputs, "values.image.repository")); got != "mirror.internal/cloudnative-pg/cloudnative-pg" {
		t.Errorf("operator image = %q", got)
	}
	if got := propStr(get(m.byName(t, cnpgClusterType, "postgres-identity").Inputs, "spec.imageName")); got != "mirror.internal/cloudnative-pg/postgresql:17.6-standard-bookworm" {
		t.Errorf("postgres image = %q", got)
	}
}

func TestPostgresCredentialsStaySecretEndToEnd(t *testing.T) {
	for name, args := range map[string]postgres.Args{"in-cluster": pgProdArgs(), "rds": pgRDSArgs(true)} {
		t.Run(name, func(t *testing.T) {
			m, pg := runPostgres(t, args)
			assertNoPlaintext(t, m, m.secretStrings(t))
			for _, r := range m.ofType(secretType) {
				strictDecode(t, r, &corev1.Secret{})
			}
			c := m.byName(t, secretType, "postgres-identity-client")
			if propStr(get(c.Inputs, "metadata.namespace")) != "apps" || propStr(get(c.Inputs, "metadata.name")) != "identity-postgres" {
				t.Errorf("client secret at %v/%v; want apps/identity-postgres", get(c.Inputs, "metadata.namespace"), get(c.Inputs, "metadata.name"))
			}
			for _, k := range []string{database.KeyPassword, database.KeyURI} {
				if !inputIsSecret(c.Inputs, "stringData."+k) {
					t.Errorf("client secret %s is not a Pulumi secret", k)
				}
			}
			e := pg.Endpoints["identity"]
			name := awaitOutput(t, e.SecretName)
			if name.Value != "identity-postgres" || name.Secret || e.SecretNamespace != "apps" {
				t.Errorf("endpoint secret = %v in %q (secret output %v)", name.Value, e.SecretNamespace, name.Secret)
			}
		})
	}
}

func TestPostgresEndpointHidesWhereTheDatabaseRuns(t *testing.T) {
	tests := []struct {
		name     string
		args     postgres.Args
		wantHost string
	}{
		{"in-cluster", pgDevArgs(), "identity-pg-rw.data.svc"},
		{"rds", pgRDSArgs(false), ".eu-west-1.rds.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pg := runPostgres(t, tt.args)
			e := pg.Endpoints["identity"]
			host := awaitOutput(t, e.Host).Value
			port := awaitOutput(t, e.Port).Value
			db := awaitOutput(t, e.Database).Value
			if h, _ := host.(string); !strings.HasSuffix(h, tt.wantHost) || port != 5432 || db != "identity_db" {
				t.Errorf("endpoint = %v:%v/%v; want host ending %s, 5432, identity_db", host, port, db, tt.wantHost)
			}
		})
	}
}

func TestPostgresRDSIsPrivateEncryptedAndHAInProd(t *testing.T) {
	tests := []struct {
		name              string
		prod              bool
		multiAZ, protects bool
		retention         float64
	}{
		{"dev", false, false, false, 7},
		{"prod", true, true, true, 14},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := runPostgres(t, pgRDSArgs(tt.prod))
			dbs := m.ofType(rdsInstanceType)
			if len(dbs) != 2 {
				t.Fatalf("rds instances = %v; want one per service", names(dbs))
			}
			for _, db := range dbs {
				in := db.Inputs
				if !in["storageEncrypted"].BoolValue() || in["publiclyAccessible"].BoolValue() {
					t.Errorf("%s: encrypted %v, public %v", db.Name, in["storageEncrypted"], in["publiclyAccessible"])
				}
				if in["multiAz"].BoolValue() != tt.multiAZ || in["deletionProtection"].BoolValue() != tt.protects {
					t.Errorf("%s: multiAz %v deletionProtection %v; want %v %v", db.Name, in["multiAz"], in["deletionProtection"], tt.multiAZ, tt.protects)
				}
				if in["backupRetentionPeriod"].NumberValue() != tt.retention {
					t.Errorf("%s: backup retention %v; want %v", db.Name, in["backupRetentionPeriod"], tt.retention)
				}
				if tt.protects && (in["skipFinalSnapshot"].BoolValue() || propStr(in["finalSnapshotIdentifier"]) == "") {
					t.Errorf("%s: a protected database is deletable without a final snapshot", db.Name)
				}
				if !in["password"].IsSecret() {
					t.Errorf("%s: master password is not a secret", db.Name)
				}
				if u, db := propStr(in["username"]), propStr(in["dbName"]); !strings.HasSuffix(u, "_app") || !strings.HasSuffix(db, "_db") {
					t.Errorf("%s: username/dbName = %s/%s; want suffixes that keep a service named user off the reserved word", db, u, db)
				}
				if propStr(in["dbSubnetGroupName"]) == "" {
					t.Errorf("%s: no DB subnet group", db.Name)
				}
			}
			sg := m.ofType("aws:ec2/securityGroup:SecurityGroup")
			if len(sg) != 1 {
				t.Fatalf("security groups = %v", names(sg))
			}
			ing := sg[0].Inputs["ingress"].ArrayValue()
			if len(ing) != 1 {
				t.Fatalf("ingress rules = %v; want one", ing)
			}
			rule := ing[0].ObjectValue()
			if got := strs(rule["securityGroups"]); len(got) != 1 || got[0] != "sg-0nodes0000000000" || rule["fromPort"].NumberValue() != 5432 || len(strs(rule["cidrBlocks"])) != 0 {
				t.Errorf("ingress = %v; want 5432 from the nodes' security group only", rule)
			}
			sub := m.ofType("aws:rds/subnetGroup:SubnetGroup")
			if len(sub) != 1 || len(strs(sub[0].Inputs["subnetIds"])) != 3 || strs(sub[0].Inputs["subnetIds"])[0] != "subnet-0aaa" {
				t.Errorf("subnet group = %v; want the private subnets", sub)
			}
			if len(m.ofType(chartType)) != 0 || len(m.ofType(cnpgClusterType)) != 0 {
				t.Error("RDS mode installs the in-cluster operator")
			}
			for _, r := range append(dbs, sg...) {
				if propStr(get(r.Inputs, "tags.owner")) != "platform" || propStr(get(r.Inputs, "tags.component")) != "postgres" {
					t.Errorf("%s is not tagged: %v", r.Name, r.Inputs["tags"])
				}
			}
		})
	}
}

func TestPostgresObjectsMatchTheirSchemas(t *testing.T) {
	for name, args := range map[string]postgres.Args{"dev": pgDevArgs(), "prod": pgProdArgs()} {
		t.Run(name, func(t *testing.T) {
			m, _ := runPostgres(t, args)
			if n := checkCustomResources(t, m, cnpgClusterType, cnpgBackupType); n < 2 {
				t.Errorf("checked only %d custom objects", n)
			}
			for _, r := range m.ofType(secretType) {
				strictDecode(t, r, &corev1.Secret{})
			}
		})
	}
}

func TestPostgresInvalidArgsFailBeforeAnyResource(t *testing.T) {
	tests := []struct {
		name string
		base func() postgres.Args
		give func(a *postgres.Args)
		want []string
	}{
		{"mode", pgDevArgs, func(a *postgres.Args) { a.Mode = "aurora" }, []string{`postgres: mode "aurora" is not supported; allowed: in-cluster, rds`}},
		{"namespace", pgDevArgs, func(a *postgres.Args) { a.Namespace = "" }, []string{`postgres: namespace "" is not a DNS label`}},
		{"instances", pgDevArgs, func(a *postgres.Args) { a.Instances = 0 }, []string{"postgres: instances is 0; allowed 1..9"}},
		{"storage class", pgDevArgs, func(a *postgres.Args) { a.StorageClass = "" }, []string{"postgres: storageClass is empty"}},
		{"storage size", pgDevArgs, func(a *postgres.Args) { a.StorageSize = "5G" }, []string{`postgres: storageSize "5G" is not a size like 10Gi`}},
		{"cpu", pgDevArgs, func(a *postgres.Args) { a.CPU = "fast" }, []string{`postgres: cpu "fast" is not a CPU quantity`}},
		{"cpu limit", pgDevArgs, func(a *postgres.Args) { a.CPULimit = "max" }, []string{`postgres: cpuLimit "max" is not a CPU quantity`}},
		{"database name", pgDevArgs, func(a *postgres.Args) { a.Databases = []postgres.Database{{Name: "Identity", Namespace: "apps"}} }, []string{`postgres: database name "Identity" is not a DNS label`}},
		{"database starts with digit", pgDevArgs, func(a *postgres.Args) { a.Databases = []postgres.Database{{Name: "1st", Namespace: "apps"}} }, []string{`postgres: database name "1st" must start with a letter`}},
		{"duplicate database", pgDevArgs, func(a *postgres.Args) { a.Databases = append(a.Databases, pgDatabases[0]) }, []string{`postgres: database "identity" is declared twice`}},
		{"database namespace", pgDevArgs, func(a *postgres.Args) { a.Databases = []postgres.Database{{Name: "identity"}} }, []string{`postgres: database "identity": namespace "" is not a DNS label`}},
		{"database storage", pgDevArgs, func(a *postgres.Args) {
			a.Databases = []postgres.Database{{Name: "identity", Namespace: "apps", StorageSize: "10 GB"}}
		}, []string{`postgres: database "identity": storageSize "10 GB" is not a size like 10Gi`}},
		{"backup bucket", pgProdArgs, func(a *postgres.Args) { a.Backup.Bucket = nil }, []string{"postgres: backup.bucket is required"}},
		{"backup prefix", pgProdArgs, func(a *postgres.Args) { a.Backup.Prefix = "/backups" }, []string{`postgres: backup.prefix "/backups" is not a folder name like postgres`}},
		{"backup credentials", pgProdArgs, func(a *postgres.Args) { a.Backup.CredentialsSecret = "" }, []string{`postgres: backup.credentialsSecret "" is not a Secret name (or set backup.iamRole)`}},
		{"backup keys and role", pgProdArgs, func(a *postgres.Args) { a.Backup.IAMRole = pulumi.String("arn:aws:iam::123456789012:role/b") },
			[]string{`postgres: backup has both an IAM role and credentialsSecret "backup-s3"; set one`}},
		{"backup retention", pgProdArgs, func(a *postgres.Args) { a.Backup.RetentionPolicy = "30 days" }, []string{`postgres: backup.retentionPolicy "30 days" is not a duration like 30d`}},
		{"backup schedule", pgProdArgs, func(a *postgres.Args) { a.Backup.Schedule = "0 2 * * *" }, []string{`postgres: backup.schedule "0 2 * * *" is not a six-field cron schedule`}},
		{"rds without network", func() postgres.Args { return pgRDSArgs(false) }, func(a *postgres.Args) { a.Network = nil }, []string{"postgres: mode rds needs the base layer's network"}},
		{"rds instance class", func() postgres.Args { return pgRDSArgs(false) }, func(a *postgres.Args) { a.RDS.InstanceClass = "m7g.large" }, []string{`postgres: rds.instanceClass "m7g.large" is not an RDS instance class`}},
		{"rds storage", func() postgres.Args { return pgRDSArgs(false) }, func(a *postgres.Args) { a.RDS.AllocatedStorage = 10 }, []string{"postgres: rds.allocatedStorage is 10 GiB; allowed 20..65536"}},
		{"rds minor version", func() postgres.Args { return pgRDSArgs(false) }, func(a *postgres.Args) { a.RDS.EngineVersion = "17.6" }, []string{`postgres: rds.engineVersion "17.6" pins a minor; RDS upgrades minors itself (autoMinorVersionUpgrade), so give the major only, e.g. "17"`}},
		{"rds retention", func() postgres.Args { return pgRDSArgs(false) }, func(a *postgres.Args) { a.RDS.BackupRetentionDays = 40 }, []string{"postgres: rds.backupRetentionDays is 40; allowed 1..35"}},
		{"rds with object-store backup", func() postgres.Args { return pgRDSArgs(false) }, func(a *postgres.Args) {
			a.Backup = &postgres.Backup{Bucket: pulumi.String("b"), Prefix: "p", CredentialsSecret: "s"}
		}, []string{"postgres: backup is for mode in-cluster"}},
		{"every problem at once", pgDevArgs, func(a *postgres.Args) { a.Instances, a.StorageClass = 0, "" }, []string{"postgres: instances is 0", "postgres: storageClass is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.base()
			if args.Backup != nil {
				b := *args.Backup
				args.Backup = &b
			}
			args.Databases = append([]postgres.Database(nil), args.Databases...)
			tt.give(&args)
			m, err := runComponent(t, func(ctx *pulumi.Context, k8s pulumi.ResourceOption) error {
				_, err := postgres.New(ctx, "postgres", args, k8s)
				return err
			})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if n := len(m.resources); n > 2 {
				t.Errorf("%d resources were created before the error", n)
			}
		})
	}
}
