package postgres

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/database"
)

// DefaultEngineVersion is the RDS PostgreSQL version: 17.6, the same major as DefaultImage.
const DefaultEngineVersion = "17.6"

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
			// Where deletion is protected, deleting anyway leaves a final snapshot.
			SkipFinalSnapshot:       pulumi.Bool(!r.DeletionProtection),
			FinalSnapshotIdentifier: finalSnapshot(r.DeletionProtection, name+"-"+d.Name),
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

func finalSnapshot(keep bool, name string) pulumi.StringPtrInput {
	if !keep {
		return nil
	}
	return pulumi.String(name + "-final")
}
