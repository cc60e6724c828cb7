package postgres

import (
	"fmt"
	"regexp"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/database"
)

// DefaultEngineVersion is the RDS PostgreSQL major version, the same major as DefaultImage; RDS
// runs its latest minor and upgrades minors in the maintenance window.
const DefaultEngineVersion = "17"

// majorVersion is an engine version of a major only.
var majorVersion = regexp.MustCompile(`^[1-9][0-9]*$`)

// newRDS creates one RDS instance per service in the private subnets, reachable only from the
// cluster's nodes.
func newRDS(ctx *pulumi.Context, name string, args Args, p *Postgres) error {
	net := args.Network
	subnets, err := rds.NewSubnetGroup(ctx, name+"-subnets", &rds.SubnetGroupArgs{
		Description: pulumi.String("Groundwork PostgreSQL: private subnets only"),
		SubnetIds:   net.PrivateSubnetIDs,
		Tags:        args.Tags.Map("postgres", name+"-subnets"),
	}, p.child())
	if err != nil {
		return fmt.Errorf("postgres subnet group: %w", err)
	}
	sg, err := database.NodesOnlySecurityGroup(ctx, name+"-sg", net, args.Tags, "postgres", "PostgreSQL", "PostgreSQL", Port, p.child())
	if err != nil {
		return fmt.Errorf("postgres security group: %w", err)
	}
	r := args.RDS
	for _, d := range args.Databases {
		password, err := newPassword(ctx, name+"-"+d.Name+"-password", p)
		if err != nil {
			return err
		}
		user := roleName(d.Name)
		snapshot, err := finalSnapshot(ctx, name+"-"+d.Name, r, d, p)
		if err != nil {
			return err
		}
		db, err := rds.NewInstance(ctx, name+"-"+d.Name, &rds.InstanceArgs{
			Engine:                  pulumi.String("postgres"),
			EngineVersion:           pulumi.String(r.EngineVersion),
			AutoMinorVersionUpgrade: pulumi.Bool(true),
			InstanceClass:           pulumi.String(r.InstanceClass),
			AllocatedStorage:        pulumi.Int(max(r.AllocatedStorage, storageGiB(d.StorageSize))),
			MaxAllocatedStorage:     pulumi.Int(4 * max(r.AllocatedStorage, storageGiB(d.StorageSize))),
			StorageType:             pulumi.String("gp3"),
			StorageEncrypted:        pulumi.Bool(true),
			DbName:                  pulumi.String(dbName(d.Name)),
			Username:                pulumi.String(user),
			Password:                password,
			Port:                    pulumi.Int(Port),
			DbSubnetGroupName:       subnets.Name,
			VpcSecurityGroupIds:     pulumi.StringArray{sg.ID()},
			PubliclyAccessible:      pulumi.Bool(false),
			MultiAz:                 pulumi.Bool(r.MultiAZ),
			BackupRetentionPeriod:   pulumi.Int(r.BackupRetentionDays),
			CopyTagsToSnapshot:      pulumi.Bool(true),
			DeletionProtection:      pulumi.Bool(r.DeletionProtection),
			// Where deletion is protected, deleting anyway leaves a final snapshot; elsewhere
			// (dev) a destroy drops the database with the stack.
			SkipFinalSnapshot:       pulumi.Bool(!r.DeletionProtection),
			FinalSnapshotIdentifier: snapshot,
			Tags:                    args.Tags.Map("postgres", name+"-"+d.Name),
		}, p.child(), pulumi.AdditionalSecretOutputs([]string{"password"}))
		if err != nil {
			return fmt.Errorf("postgres %s rds instance: %w", d.Name, err)
		}
		e, err := clientSecret(ctx, name, d, db.Address, db.Port, password, labels(args.Tags, d.Name), p)
		if err != nil {
			return err
		}
		p.Endpoints[d.Name] = e
	}
	return nil
}

// finalSnapshot names the snapshot RDS takes when the instance is deleted, where deletion is
// protected (nil elsewhere). Snapshot identifiers are unique in the account and region
// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html), so a fixed
// name fails the second delete (a replaced instance, a re-created stack): the name carries a
// random suffix made anew with every instance, since the random ID is replaced whenever a
// setting that replaces the instance changes, and with every new stack.
func finalSnapshot(ctx *pulumi.Context, name string, r RDSArgs, d Database, p *Postgres) (pulumi.StringPtrInput, error) {
	if !r.DeletionProtection {
		return nil, nil
	}
	suffix, err := random.NewRandomId(ctx, name+"-final-snapshot", &random.RandomIdArgs{
		ByteLength: pulumi.Int(4),
		// The instance's settings that force its replacement (terraform-provider-aws,
		// internal/service/rds/instance.go: ForceNew on engine, db_name, username,
		// storage_encrypted).
		Keepers: pulumi.StringMap{
			"engine":           pulumi.String("postgres"),
			"dbName":           pulumi.String(dbName(d.Name)),
			"username":         pulumi.String(roleName(d.Name)),
			"storageEncrypted": pulumi.String("true"),
		},
	}, p.child())
	if err != nil {
		return nil, fmt.Errorf("postgres %s final snapshot name: %w", d.Name, err)
	}
	return pulumi.Sprintf("%s-final-%s", name, suffix.Hex).ToStringPtrOutput(), nil
}
