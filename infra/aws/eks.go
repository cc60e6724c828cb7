package aws

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/infra"
)

// ControlPlaneLogTypes are the EKS control-plane log types
// (https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html).
var ControlPlaneLogTypes = []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}

// Addons are the EKS add-ons Groundwork installs, the names aws.addonVersions may pin.
var Addons = []string{"vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver"}

// DefaultControlPlaneLogs are what an incident review needs (who did what, who authenticated as
// whom) without paying CloudWatch ingestion for the chatty api, controllerManager and scheduler
// logs.
var DefaultControlPlaneLogs = []string{"audit", "authenticator"}

// EKS upgrade policies (https://docs.aws.amazon.com/eks/latest/userguide/view-upgrade-policy.html).
const (
	// UpgradeStandard: when standard support of the cluster's minor ends, AWS upgrades the
	// control plane to the next minor on its own.
	UpgradeStandard = "STANDARD"
	// UpgradeExtended: the cluster stays on its minor through extended support (billed at the
	// extended rate only during that period) until the stack upgrades it.
	UpgradeExtended = "EXTENDED"
)

// cluster is the EKS control plane and what makes it ready for workloads.
type cluster struct {
	cluster *eks.Cluster
	// ready are the resources a Kubernetes provider must wait for: node groups and add-ons.
	ready []pulumi.Resource
	// ebsCSI is the add-on that provisions the volumes of the default StorageClass.
	ebsCSI pulumi.Resource
	// oidc is the cluster's OIDC identity provider, which IAM roles for service accounts trust.
	oidc *iam.OpenIdConnectProvider
	// nodeGroups are the managed node groups, which the cluster autoscaler resizes.
	nodeGroups []pulumi.Resource
}

// role is an IAM role and the policy attachments that give it its permissions. Whatever assumes
// the role depends on all of them: on create the permissions exist before they are used, and on
// destroy they are detached only after their user is gone (EKS deletes its ENIs and load
// balancers with the cluster role's permissions).
type role struct {
	*iam.Role
	policies []pulumi.Resource
}

// deps are the role and its attachments, for pulumi.DependsOn.
func (r role) deps() []pulumi.Resource {
	return append([]pulumi.Resource{r.Role}, r.policies...)
}

func (b *builder) eks(net *network) (*cluster, error) {
	a := b.args
	key, err := kms.NewKey(b.ctx, b.name+"-secrets", &kms.KeyArgs{
		Description:          pulumi.Sprintf("Envelope encryption of Kubernetes secrets in EKS cluster %s", a.ClusterName),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(a.KMSDeletionWindowDays),
		Tags:                 b.tags(b.name + "-secrets"),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	if _, err := kms.NewAlias(b.ctx, b.name+"-secrets", &kms.AliasArgs{
		Name:        pulumi.String("alias/" + a.ClusterName + "-eks-secrets"),
		TargetKeyId: key.KeyId,
	}, b.opts()...); err != nil {
		return nil, err
	}
	// EKS writes to this group by name; creating it first sets the retention instead of
	// CloudWatch's keep-forever default.
	logs, err := cloudwatch.NewLogGroup(b.ctx, b.name+"-control-plane", &cloudwatch.LogGroupArgs{
		// EKS writes to exactly this name
		// (https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html).
		Name:            pulumi.String("/aws/eks/" + a.ClusterName + "/cluster"),
		RetentionInDays: pulumi.Int(a.LogRetentionDays),
		Tags:            b.tags(b.name + "-control-plane"),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}

	clusterRole, err := b.role("cluster", servicePrincipal("eks.amazonaws.com"), "AmazonEKSClusterPolicy")
	if err != nil {
		return nil, err
	}
	// Nodes pull images and join the cluster; the CNI's permissions go to its own service account.
	nodeRole, err := b.role("node", servicePrincipal("ec2.amazonaws.com"), "AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly")
	if err != nil {
		return nil, err
	}

	// The private endpoint admits the VPC and the connected networks a deploy host may run in
	// (VPN, peering, Transit Gateway): EKS attaches this group to its endpoint ENIs
	// (https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html).
	apiIngress := ec2.SecurityGroupIngressArray{&ec2.SecurityGroupIngressArgs{
		Description: pulumi.String("Kubernetes API from the VPC"),
		Protocol:    pulumi.String("tcp"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(443),
		CidrBlocks: pulumi.StringArray{pulumi.String(a.VPCCIDR)},
	}}
	if len(a.PrivateAccessCIDRs) > 0 {
		apiIngress = append(apiIngress, &ec2.SecurityGroupIngressArgs{
			Description: pulumi.String("Kubernetes API from networks connected to the VPC (deploy hosts)"),
			Protocol:    pulumi.String("tcp"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(443),
			CidrBlocks: pulumi.ToStringArray(a.PrivateAccessCIDRs),
		})
	}
	apiSG, err := ec2.NewSecurityGroup(b.ctx, b.name+"-api", &ec2.SecurityGroupArgs{
		VpcId:       net.vpc.ID(),
		Description: pulumi.String("EKS API endpoint: HTTPS from the VPC and named connected networks only"),
		Ingress:     apiIngress,
		Egress: ec2.SecurityGroupEgressArray{&ec2.SecurityGroupEgressArgs{
			Description: pulumi.String("Control plane to kubelets and webhooks in the VPC"),
			Protocol:    pulumi.String("tcp"), FromPort: pulumi.Int(0), ToPort: pulumi.Int(65535),
			CidrBlocks: pulumi.StringArray{pulumi.String(a.VPCCIDR)},
		}},
		Tags: b.tags(b.name + "-api"),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}

	subnetIDs := pulumi.StringArray{}
	for _, s := range net.private {
		subnetIDs = append(subnetIDs, s.ID())
	}
	c, err := eks.NewCluster(b.ctx, b.name+"-eks", &eks.ClusterArgs{
		Name:    pulumi.String(a.ClusterName),
		Version: pulumi.String(minorVersion(a.KubernetesVersion)),
		RoleArn: clusterRole.Arn,
		VpcConfig: &eks.ClusterVpcConfigArgs{
			SubnetIds:             subnetIDs,
			SecurityGroupIds:      pulumi.StringArray{apiSG.ID()},
			EndpointPrivateAccess: pulumi.Bool(true),
			EndpointPublicAccess:  pulumi.Bool(len(a.PublicAccessCIDRs) > 0),
			PublicAccessCidrs:     pulumi.ToStringArray(a.PublicAccessCIDRs),
		},
		EncryptionConfig: &eks.ClusterEncryptionConfigArgs{
			Provider:  &eks.ClusterEncryptionConfigProviderArgs{KeyArn: key.Arn},
			Resources: pulumi.StringArray{pulumi.String("secrets")},
		},
		EnabledClusterLogTypes: pulumi.ToStringArray(a.ControlPlaneLogs),
		AccessConfig: &eks.ClusterAccessConfigArgs{
			AuthenticationMode: pulumi.String("API"),
			// The deploying identity gets its admin access entry from adminAccess, like every
			// other admin: a bootstrap entry would be invisible to the program and collide
			// (ResourceInUseException) with an entry for the same role in adminRoleArns
			// (https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html).
			BootstrapClusterCreatorAdminPermissions: pulumi.Bool(false),
		},
		// Groundwork installs the networking add-ons itself, as managed add-ons with IRSA.
		BootstrapSelfManagedAddons: pulumi.Bool(false),
		KubernetesNetworkConfig:    &eks.ClusterKubernetesNetworkConfigArgs{ServiceIpv4Cidr: pulumi.String(a.ServiceCIDR)},
		// See UpgradeStandard and UpgradeExtended; the composition root picks one.
		UpgradePolicy: &eks.ClusterUpgradePolicyArgs{SupportType: pulumi.String(a.UpgradePolicy)},
		Tags:          b.tags(a.ClusterName),
	}, b.opts(
		pulumi.DependsOn(append([]pulumi.Resource{logs}, clusterRole.deps()...)),
		// The name is fixed (the log group, the autoscaler's tags and the kubeconfig use it):
		// a replacement must delete the old cluster before creating the new one.
		pulumi.DeleteBeforeReplace(true),
	)...)
	if err != nil {
		return nil, err
	}

	oidc, err := iam.NewOpenIdConnectProvider(b.ctx, b.name+"-oidc", &iam.OpenIdConnectProviderArgs{
		Url:           c.Identities.Index(pulumi.Int(0)).Oidcs().Index(pulumi.Int(0)).Issuer().Elem(),
		ClientIdLists: pulumi.StringArray{pulumi.String("sts.amazonaws.com")},
		Tags:          b.tags(b.name + "-oidc"),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}

	cniRole, err := b.serviceAccountRole("vpc-cni", oidc, "kube-system", "aws-node", "AmazonEKS_CNI_Policy")
	if err != nil {
		return nil, err
	}
	ebsRole, err := b.serviceAccountRole("ebs-csi", oidc, "kube-system", "ebs-csi-controller-sa", "service-role/AmazonEBSCSIDriverPolicy")
	if err != nil {
		return nil, err
	}
	// Networking must run before nodes can become Ready; DNS and storage need nodes to run on.
	// The VPC CNI enforces NetworkPolicy objects only with its network policy agent turned on
	// (https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html):
	// without it every policy the platform writes would be inert.
	beforeNodes := []pulumi.Resource{}
	for _, ad := range []struct {
		name   string
		role   *role
		config string
	}{{"vpc-cni", &cniRole, VPCCNIConfiguration}, {"kube-proxy", nil, ""}} {
		r, err := b.addon(c, ad.name, ad.role, ad.config)
		if err != nil {
			return nil, err
		}
		beforeNodes = append(beforeNodes, r)
	}

	out := &cluster{cluster: c, oidc: oidc}
	for _, ng := range a.NodeGroups {
		r, err := b.nodeGroup(c, nodeRole, net, ng, beforeNodes)
		if err != nil {
			return nil, fmt.Errorf("node group %s: %w", ng.Name, err)
		}
		out.ready = append(out.ready, r)
		out.nodeGroups = append(out.nodeGroups, r)
	}
	coredns, err := b.addon(c, "coredns", nil, "", pulumi.DependsOn(out.ready))
	if err != nil {
		return nil, err
	}
	out.ebsCSI, err = b.addon(c, "aws-ebs-csi-driver", &ebsRole, "", pulumi.DependsOn(out.ready))
	if err != nil {
		return nil, err
	}
	out.ready = append(out.ready, coredns, out.ebsCSI)
	out.ready = append(out.ready, beforeNodes...)

	for _, arn := range adminPrincipals(b.deployer, a.AdminRoleARNs) {
		entry, err := b.adminAccess(c, arn)
		if err != nil {
			return nil, err
		}
		out.ready = append(out.ready, entry)
	}
	return out, nil
}

// VPCCNIConfiguration is the vpc-cni add-on's configuration: its network policy agent on, so
// NetworkPolicy objects are enforced (VPC CNI 1.14 or newer).
const VPCCNIConfiguration = `{"enableNetworkPolicy":"true"}`

// adminPrincipals are the IAM principals that get cluster-admin: the identity that deploys (the
// Kubernetes provider acts as it) and the configured admin roles, each once, in a stable order.
func adminPrincipals(deployer string, admins []string) []string {
	out := []string{}
	for _, arn := range append([]string{deployer}, admins...) {
		if arn != "" && !slices.Contains(out, arn) {
			out = append(out, arn)
		}
	}
	return out
}

func (b *builder) addon(c *eks.Cluster, name string, role *role, config string, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
	args := &eks.AddonArgs{
		ClusterName:              c.Name,
		AddonName:                pulumi.String(name),
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
		ResolveConflictsOnUpdate: pulumi.String("PRESERVE"),
		Tags:                     b.tags(b.name + "-" + name),
	}
	if v, ok := b.args.AddonVersions[name]; ok {
		args.AddonVersion = pulumi.String(v)
	}
	if config != "" {
		args.ConfigurationValues = pulumi.String(config)
	}
	if role != nil {
		args.ServiceAccountRoleArn = role.Arn
		opts = append(opts, pulumi.DependsOn(role.deps()))
	}
	return eks.NewAddon(b.ctx, b.name+"-"+name, args, b.opts(opts...)...)
}

func (b *builder) nodeGroup(c *eks.Cluster, nodeRole role, net *network, ng infra.NodeGroup, after []pulumi.Resource) (pulumi.Resource, error) {
	name := b.name + "-" + ng.Name
	volumeTags := b.tags(name)
	lt, err := ec2.NewLaunchTemplate(b.ctx, name, &ec2.LaunchTemplateArgs{
		Description: pulumi.Sprintf("EKS node group %s of %s", ng.Name, b.args.ClusterName),
		BlockDeviceMappings: ec2.LaunchTemplateBlockDeviceMappingArray{&ec2.LaunchTemplateBlockDeviceMappingArgs{
			DeviceName: pulumi.String("/dev/xvda"),
			Ebs: &ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
				VolumeSize:          pulumi.Int(ng.DiskSize),
				VolumeType:          pulumi.String("gp3"),
				Encrypted:           pulumi.String("true"),
				DeleteOnTermination: pulumi.String("true"),
			},
		}},
		// IMDSv2 only, one hop: pods cannot borrow the node's credentials; they use IRSA.
		MetadataOptions: &ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint:            pulumi.String("enabled"),
			HttpTokens:              pulumi.String("required"),
			HttpPutResponseHopLimit: pulumi.Int(1),
		},
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("instance"), Tags: volumeTags},
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("volume"), Tags: volumeTags},
		},
		UpdateDefaultVersion: pulumi.Bool(true),
		Tags:                 b.tags(name),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	taints := eks.NodeGroupTaintArray{}
	for _, t := range ng.Taints {
		taints = append(taints, &eks.NodeGroupTaintArgs{
			Key: pulumi.String(t.Key), Value: pulumi.StringPtr(t.Value), Effect: pulumi.String(eksTaintEffect(t.Effect)),
		})
	}
	subnets := pulumi.StringArray{}
	for _, s := range net.private {
		subnets = append(subnets, s.ID())
	}
	// The cluster autoscaler discovers groups by these tags; EKS puts the same on the group's
	// Auto Scaling group (https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html).
	groupTags := b.tags(name)
	for k, v := range AutoscalerTags(b.args.ClusterName) {
		groupTags[k] = pulumi.String(v)
	}
	return eks.NewNodeGroup(b.ctx, name, &eks.NodeGroupArgs{
		ClusterName: c.Name,
		// A prefix, not a name: a change that replaces the group (instance types, capacity
		// type, disk) creates the new group before deleting the old, and both exist at once.
		NodeGroupNamePrefix: pulumi.String(ng.Name + "-"),
		NodeRoleArn:         nodeRole.Arn,
		SubnetIds:           subnets,
		AmiType:             pulumi.String(amiType(ng.InstanceTypes)),
		InstanceTypes:       pulumi.ToStringArray(ng.InstanceTypes),
		CapacityType:        pulumi.String(ng.CapacityType),
		ScalingConfig: &eks.NodeGroupScalingConfigArgs{
			MinSize: pulumi.Int(ng.MinSize), DesiredSize: pulumi.Int(ng.DesiredSize), MaxSize: pulumi.Int(ng.MaxSize),
		},
		UpdateConfig: &eks.NodeGroupUpdateConfigArgs{MaxUnavailablePercentage: pulumi.Int(33)},
		LaunchTemplate: &eks.NodeGroupLaunchTemplateArgs{
			Id:      lt.ID(),
			Version: lt.LatestVersion.ApplyT(func(v int) string { return fmt.Sprint(v) }).(pulumi.StringOutput),
		},
		Labels: pulumi.ToStringMap(ng.Labels),
		Taints: taints,
		Tags:   groupTags,
	}, b.opts(
		pulumi.DependsOn(append(slices.Clone(after), nodeRole.deps()...)),
		// The cluster autoscaler owns the current size once the group exists.
		pulumi.IgnoreChanges([]string{"scalingConfig.desiredSize"}),
	)...)
}

// adminAccess grants an IAM role cluster-admin through an EKS access entry.
func (b *builder) adminAccess(c *eks.Cluster, roleARN string) (pulumi.Resource, error) {
	name := b.name + "-admin-" + roleKey(roleARN)
	entry, err := eks.NewAccessEntry(b.ctx, name, &eks.AccessEntryArgs{
		ClusterName:  c.Name,
		PrincipalArn: pulumi.String(roleARN),
		Type:         pulumi.String("STANDARD"),
		Tags:         b.tags(name),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	return eks.NewAccessPolicyAssociation(b.ctx, name, &eks.AccessPolicyAssociationArgs{
		ClusterName:  c.Name,
		PrincipalArn: entry.PrincipalArn,
		PolicyArn:    pulumi.Sprintf("arn:%s:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", b.partition),
		AccessScope:  &eks.AccessPolicyAssociationAccessScopeArgs{Type: pulumi.String("cluster")},
	}, b.opts()...)
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// roleKey makes a stable resource-name part from a role ARN: account and role name.
func roleKey(arn string) string {
	parts := strings.Split(arn, ":")
	account, role := "", arn
	if len(parts) >= 6 {
		account = parts[4]
		role = parts[5][strings.LastIndex(parts[5], "/")+1:]
	}
	return strings.Trim(nonName.ReplaceAllString(strings.ToLower(account+"-"+role), "-"), "-")
}

func eksTaintEffect(k8s string) string {
	switch k8s {
	case "NoExecute":
		return "NO_EXECUTE"
	case "PreferNoSchedule":
		return "PREFER_NO_SCHEDULE"
	}
	return "NO_SCHEDULE"
}

var graviton = regexp.MustCompile(`^[a-z]+\d+[a-z]*g[a-z]*\.`)

// amiType picks the EKS-optimized Amazon Linux 2023 image for the instances' architecture.
func amiType(instanceTypes []string) string {
	if len(instanceTypes) > 0 && graviton.MatchString(instanceTypes[0]) {
		return "AL2023_ARM_64_STANDARD"
	}
	return "AL2023_x86_64_STANDARD"
}

// minorVersion turns "1.34.2" into "1.34", the form EKS takes.
func minorVersion(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// role creates an IAM role with the given trust policy and AWS managed policies.
func (b *builder) role(name string, trust pulumi.StringInput, managed ...string) (role, error) {
	full := b.name + "-" + name
	r, err := iam.NewRole(b.ctx, full, &iam.RoleArgs{
		AssumeRolePolicy: trust,
		Tags:             b.tags(full),
	}, b.opts()...)
	if err != nil {
		return role{}, err
	}
	out := role{Role: r}
	for _, p := range managed {
		policy := p[strings.LastIndex(p, "/")+1:]
		att, err := iam.NewRolePolicyAttachment(b.ctx, full+"-"+policy, &iam.RolePolicyAttachmentArgs{
			Role:      r.Name,
			PolicyArn: pulumi.String(fmt.Sprintf("arn:%s:iam::aws:policy/%s", b.partition, p)),
		}, b.opts()...)
		if err != nil {
			return role{}, err
		}
		out.policies = append(out.policies, att)
	}
	return out, nil
}

// serviceAccountRole is an IAM role that only the named Kubernetes service account can assume,
// through the cluster's OIDC provider (IAM roles for service accounts).
func (b *builder) serviceAccountRole(name string, oidc *iam.OpenIdConnectProvider, namespace, serviceAccount string, managed ...string) (role, error) {
	return b.role(name, webIdentityTrust(oidc, infra.ServiceAccount{Namespace: namespace, Name: serviceAccount}), managed...)
}

// webIdentityTrust is a trust policy that lets exactly the given service accounts assume a role
// through the cluster's OIDC provider.
func webIdentityTrust(oidc *iam.OpenIdConnectProvider, accounts ...infra.ServiceAccount) pulumi.StringOutput {
	subjects := make([]string, len(accounts))
	for i, sa := range accounts {
		subjects[i] = "system:serviceaccount:" + sa.Namespace + ":" + sa.Name
	}
	return pulumi.All(oidc.Arn, oidc.Url).ApplyT(func(v []any) string {
		arn, url := v[0].(string), strings.TrimPrefix(v[1].(string), "https://")
		var sub any = subjects
		if len(subjects) == 1 {
			sub = subjects[0]
		}
		return policyJSON(map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]any{"Federated": arn},
			"Action":    "sts:AssumeRoleWithWebIdentity",
			"Condition": map[string]any{"StringEquals": map[string]any{
				url + ":sub": sub,
				url + ":aud": "sts.amazonaws.com",
			}},
		})
	}).(pulumi.StringOutput)
}

func servicePrincipal(service string) pulumi.StringInput {
	return pulumi.String(policyJSON(map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"Service": service},
		"Action":    "sts:AssumeRole",
	}))
}

// policyJSON renders an IAM policy document with one statement.
func policyJSON(statement map[string]any) string {
	// Maps of strings always marshal; the error is impossible here.
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{statement}})
	return string(b)
}
