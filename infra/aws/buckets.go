package aws

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/infra"
)

// bucketPrefixMax is the longest bucket_prefix S3 takes: AWS appends 26 characters to make the
// name unique, and a bucket name has at most 63.
const bucketPrefixMax = 37

// bucket makes a private S3 bucket for one purpose of the platform, and an IAM role that only
// the bucket's service accounts can assume, allowed to list, read, write and delete its objects
// and nothing else.
//
// The bucket refuses plain HTTP, blocks every form of public access, disables ACLs (the account
// owns every object), encrypts at rest with S3-managed keys, expires objects after
// Bucket.ExpireDays and aborts multipart uploads left incomplete for a day.
func (b *builder) bucket(spec infra.Bucket, oidc *iam.OpenIdConnectProvider) (*infra.ObjectStore, error) {
	a := b.args
	name := b.name + "-" + spec.Name
	prefix := a.ClusterName + "-" + spec.Name + "-"
	if len(prefix) > bucketPrefixMax {
		prefix = prefix[:bucketPrefixMax-1] + "-"
	}
	opts := b.opts()
	if spec.Retain {
		opts = b.opts(pulumi.Protect(a.Protect))
	}
	bucket, err := s3.NewBucketV2(b.ctx, name, &s3.BucketV2Args{
		BucketPrefix: pulumi.String(prefix),
		// A production or retained bucket holding data is not emptied by a destroy: the destroy
		// fails instead.
		ForceDestroy: pulumi.Bool(!spec.Retain && !a.Protect),
		Tags:         b.tags(name),
	}, opts...)
	if err != nil {
		return nil, err
	}
	child := b.opts(pulumi.Parent(bucket))
	if _, err := s3.NewBucketPublicAccessBlock(b.ctx, name, &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, child...); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketOwnershipControls(b.ctx, name, &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, child...); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(b.ctx, name, &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{&s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm: pulumi.String("AES256"),
			},
		}},
	}, child...); err != nil {
		return nil, err
	}
	rule := &s3.BucketLifecycleConfigurationV2RuleArgs{
		Id:                             pulumi.String("expire"),
		Status:                         pulumi.String("Enabled"),
		Filter:                         &s3.BucketLifecycleConfigurationV2RuleFilterArgs{},
		AbortIncompleteMultipartUpload: &s3.BucketLifecycleConfigurationV2RuleAbortIncompleteMultipartUploadArgs{DaysAfterInitiation: pulumi.Int(1)},
	}
	if spec.ExpireDays > 0 {
		rule.Expiration = &s3.BucketLifecycleConfigurationV2RuleExpirationArgs{Days: pulumi.Int(spec.ExpireDays)}
	}
	lifecycleOpts := child
	if spec.Versioned {
		versioning, err := s3.NewBucketVersioningV2(b.ctx, name, &s3.BucketVersioningV2Args{
			Bucket:                  bucket.ID(),
			VersioningConfiguration: &s3.BucketVersioningV2VersioningConfigurationArgs{Status: pulumi.String("Enabled")},
		}, child...)
		if err != nil {
			return nil, err
		}
		if spec.ExpireDays > 0 {
			rule.NoncurrentVersionExpiration = &s3.BucketLifecycleConfigurationV2RuleNoncurrentVersionExpirationArgs{NoncurrentDays: pulumi.Int(spec.ExpireDays)}
		}
		// S3 wants versioning in place before rules about old versions.
		lifecycleOpts = append(append([]pulumi.ResourceOption{}, child...), pulumi.DependsOn([]pulumi.Resource{versioning}))
	}
	if _, err := s3.NewBucketLifecycleConfigurationV2(b.ctx, name, &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules:  s3.BucketLifecycleConfigurationV2RuleArray{rule},
	}, lifecycleOpts...); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketPolicy(b.ctx, name, &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: bucket.Arn.ApplyT(func(arn string) string {
			return policyJSON(map[string]any{
				"Sid":       "DenyPlainHTTP",
				"Effect":    "Deny",
				"Principal": "*",
				"Action":    "s3:*",
				"Resource":  []string{arn, arn + "/*"},
				"Condition": map[string]any{"Bool": map[string]string{"aws:SecureTransport": "false"}},
			})
		}).(pulumi.StringOutput),
	}, child...); err != nil {
		return nil, err
	}

	if len(spec.Users) == 0 {
		return nil, fmt.Errorf("bucket %s: no service accounts use it", spec.Name)
	}
	role, err := iam.NewRole(b.ctx, name, &iam.RoleArgs{
		Description:      pulumi.Sprintf("Read and write S3 bucket of %s %s", a.ClusterName, spec.Name),
		AssumeRolePolicy: webIdentityTrust(oidc, spec.Users...),
		Tags:             b.tags(name),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	if _, err := iam.NewRolePolicy(b.ctx, name, &iam.RolePolicyArgs{
		Role:   role.ID(),
		Policy: bucket.Arn.ApplyT(bucketAccessPolicy).(pulumi.StringOutput),
	}, b.opts(pulumi.Parent(role))...); err != nil {
		return nil, err
	}
	arn := role.Arn
	return &infra.ObjectStore{
		Bucket:   bucket.Bucket,
		Endpoint: s3Endpoint(b.partition, a.Region),
		Region:   a.Region,
		RoleARN:  &arn,
	}, nil
}

// bucketAccessPolicy allows listing one bucket and reading, writing and deleting its objects.
func bucketAccessPolicy(arn string) string {
	// Maps of strings always marshal; the error is impossible here.
	doc, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{
			map[string]any{"Effect": "Allow", "Action": []string{"s3:ListBucket", "s3:GetBucketLocation"}, "Resource": arn},
			map[string]any{"Effect": "Allow", "Action": []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, "Resource": arn + "/*"},
		},
	})
	return string(doc)
}

// s3Endpoint is the regional S3 endpoint of a partition.
func s3Endpoint(partition, region string) string {
	if partition == "aws-cn" {
		return "https://s3." + region + ".amazonaws.com.cn"
	}
	return "https://s3." + region + ".amazonaws.com"
}

// ObjectStore implements infra.Cluster.
func (c *Cluster) ObjectStore(name string) *infra.ObjectStore { return c.buckets[name] }
