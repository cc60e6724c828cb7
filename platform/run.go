// Package platform is the composition root of Groundwork: it reads the stack configuration and
// decides what is built for the stack, layer by layer. It knows what to build, not how: the
// how lives in infra/ and components/.
package platform

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/infra"
	"github.com/groundwork/groundwork/infra/aws"
	"github.com/groundwork/groundwork/infra/existing"
	"github.com/groundwork/groundwork/infra/openstack"
	"github.com/groundwork/groundwork/services"
)

// Run builds the whole stack. It is the program main.go hands to pulumi.Run.
func Run(ctx *pulumi.Context) error {
	cfg, err := Load(ctx)
	if err != nil {
		return err
	}
	specs, err := services.Load(cfg.ServicesDir)
	if err != nil {
		return fmt.Errorf("%s:servicesDir %q: %w", Namespace, cfg.ServicesDir, err)
	}
	if err := serviceSettingsMatch(cfg, specs); err != nil {
		return err
	}
	src, err := chartSource(cfg)
	if err != nil {
		return err
	}
	if err := checkCharts(cfg, src); err != nil {
		return err
	}
	if cfg.Kubernetes.RenderTo != "" {
		_ = ctx.Log.Warn(fmt.Sprintf("render mode: Kubernetes objects are written to %s instead of being applied. "+
			"Secret manifests there hold credentials (base64, not encrypted): keep the folder out of version control "+
			"or seal the Secrets before committing them.", cfg.Kubernetes.RenderTo), nil)
	}
	cluster, err := NewCluster(ctx, cfg, specs)
	if err != nil {
		return err
	}
	plat, err := newPlatform(ctx, cfg, cluster, specs)
	if err != nil {
		return err
	}
	if err := deployServices(ctx, cfg, cluster, plat, specs); err != nil {
		return err
	}

	ctx.Export("cloud", pulumi.String(cfg.Cloud))
	ctx.Export("clusterName", cluster.Name())
	ctx.Export("kubeconfig", cluster.Kubeconfig())
	ctx.Export("zones", pulumi.ToStringArray(cluster.Zones()))
	ctx.Export("storageClass", pulumi.String(cluster.StorageClass()))
	ctx.Export("registryUrl", cluster.Registry().URL)
	ctx.Export("gatewayService", pulumi.String(plat.Mesh.GatewayService))
	ctx.Export("grafanaAdminPassword", plat.Observability.GrafanaAdminPassword)
	return nil
}

// Load reads the stack configuration of a running program: every groundwork:* key, with
// defaults applied and validated.
func Load(ctx *pulumi.Context) (*Config, error) {
	return Parse(Source{
		Stack:    ctx.Stack(),
		Get:      ctx.GetConfig,
		IsSecret: ctx.IsConfigSecret,
		Keys:     configKeys(),
	})
}

// configKeys lists the stack's config keys from the environment the Pulumi language host sets,
// so typos in key names are caught. It returns nil, skipping that check, where the variable is
// absent (a program run some other way).
func configKeys() []string {
	raw := os.Getenv(pulumi.EnvConfig)
	if raw == "" {
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// NewCluster builds the base layer on the stack's cloud. It is the one place that knows the
// implementations of infra.Cluster.
func NewCluster(ctx *pulumi.Context, cfg *Config, specs []services.Spec) (infra.Cluster, error) {
	svcs := make([]string, len(specs))
	for i, s := range specs {
		svcs[i] = s.Name
	}
	tags := tagsOf(ctx, cfg)
	groups := nodeGroups(cfg.NodeGroups)
	protect := cfg.Environment == EnvProd
	switch cfg.Cloud {
	case CloudAWS:
		src, err := chartSource(cfg)
		if err != nil {
			// Validate has parsed it already; this guards a program change.
			return nil, err
		}
		a := cfg.AWS
		zones, err := aws.Zones(ctx, a.ZoneCount)
		if err != nil {
			return nil, fmt.Errorf("%s:aws.zoneCount %d in %s: %w", Namespace, a.ZoneCount, cfg.AWSRegion, err)
		}
		return aws.New(ctx, cfg.ClusterName, aws.Args{
			ClusterName:           cfg.ClusterName,
			Region:                cfg.AWSRegion,
			Zones:                 zones,
			KubernetesVersion:     cfg.Kubernetes.Version,
			ServiceCIDR:           cfg.Kubernetes.ServiceCIDR,
			VPCCIDR:               cfg.Network.CIDR,
			PublicSubnets:         a.PublicSubnets,
			PrivateSubnets:        a.PrivateSubnets,
			NatPerZone:            a.NatGateways == NatPerZone,
			PublicAccessCIDRs:     a.PublicAccessCIDRs,
			PrivateAccessCIDRs:    a.PrivateAccessCIDRs,
			ControlPlaneLogs:      a.ControlPlaneLogs,
			UpgradePolicy:         a.UpgradePolicy,
			Profile:               cfg.AWSProfile,
			AssumeRoleARN:         assumedRole(cfg),
			AdminRoleARNs:         a.AdminRoleARNs,
			KMSDeletionWindowDays: a.KMSDeletionWindowDays,
			LogRetentionDays:      a.LogRetentionDays,
			AddonVersions:         a.AddonVersions,
			NodeGroups:            groups,
			Services:              svcs,
			Tags:                  tags,
			RenderTo:              cfg.Kubernetes.RenderTo,
			Buckets:               buckets(cfg, specs),
			Protect:               protect,
			HA:                    cfg.Environment == EnvProd,
			ChartSource:           src,
			ImageMirror:           cfg.Images.RegistryMirror,
			DNS01:                 cfg.dns01(),
		})
	case CloudOpenStack:
		o := cfg.OpenStack
		return openstack.New(ctx, cfg.ClusterName, openstack.Args{
			ClusterName:       cfg.ClusterName,
			KubernetesVersion: cfg.Kubernetes.Version,
			NetworkCIDR:       cfg.Network.CIDR,
			Networks:          openstack.Networks(o.Networks),
			ExternalNetwork:   o.ExternalNetwork,
			Image:             o.Image,
			MasterFlavor:      o.MasterFlavor,
			AvailabilityZones: o.AvailabilityZones,
			DNSServers:        o.DNSServers,
			MasterCount:       o.MasterCount,
			APIFloatingIP:     o.APIAccess == APIAccessFloatingIP,
			Keypair:           o.Keypair,
			NetworkDriver:     o.NetworkDriver,
			APIAllowedCIDRs:   o.APIAllowedCIDRs,
			Labels:            o.Labels,
			NodeGroups:        groups,
			Registry:          cfg.Registry.Server,
			RegistryLogin:     registryLogin(cfg.Registry),
			Services:          svcs,
			Tags:              tags,
			RenderTo:          cfg.Kubernetes.RenderTo,
			S3Endpoint:        o.S3Endpoint,
			Buckets:           buckets(cfg, specs),
			Protect:           protect,
		})
	case CloudExisting:
		e := cfg.Existing
		args := existing.Args{
			KubeconfigPath:          e.KubeconfigPath,
			Context:                 e.Context,
			StorageClass:            e.StorageClass,
			Zones:                   e.Zones,
			LoadBalancerAnnotations: e.LoadBalancerAnnotations,
			Registry:                cfg.Registry.Server,
			RegistryLogin:           registryLogin(cfg.Registry),
			Services:                svcs,
			RenderTo:                cfg.Kubernetes.RenderTo,
		}
		if o := e.ObjectStorage; o != nil {
			args.ObjectStorage = &existing.ObjectStorage{
				Endpoint: o.Endpoint, Region: o.Region, PathStyle: *o.PathStyle,
				AccessKeyID:     pulumi.String(o.AccessKeyID).ToStringOutput(),
				SecretAccessKey: pulumi.ToSecret(pulumi.String(o.SecretAccessKey)).(pulumi.StringOutput),
				Buckets:         o.Buckets,
			}
		}
		if cfg.Kubeconfig != "" {
			args.Kubeconfig = pulumi.ToSecret(pulumi.String(cfg.Kubeconfig)).(pulumi.StringOutput)
		}
		return existing.New(ctx, cfg.ClusterName, args)
	}
	// Validate admits no other cloud; this guards a program change that forgets one.
	return nil, fmt.Errorf("%s:cloud: %q has no implementation", Namespace, cfg.Cloud)
}

// assumedRole is the role the AWS provider assumes (aws:assumeRole.roleArn), or "".
func assumedRole(cfg *Config) string {
	if cfg.AWSAssumeRole == nil {
		return ""
	}
	return cfg.AWSAssumeRole.RoleARN
}

// registryLogin is the configured push login of a registry Groundwork does not create.
func registryLogin(r RegistryConfig) *infra.RegistryLogin {
	if r.Username == "" {
		return nil
	}
	host, _, _ := strings.Cut(r.Server, "/")
	return &infra.RegistryLogin{
		Server:   pulumi.String(host).ToStringOutput(),
		Username: pulumi.String(r.Username).ToStringOutput(),
		Password: pulumi.ToSecret(pulumi.String(r.Password)).(pulumi.StringOutput),
	}
}

// tagsOf are the ownership tags and labels of every resource of the stack.
func tagsOf(ctx *pulumi.Context, cfg *Config) infra.Tags {
	return infra.Tags{Project: ctx.Project(), Stack: cfg.Stack, Owner: cfg.Owner, Environment: cfg.Environment}
}

func nodeGroups(cfg []NodeGroupConfig) []infra.NodeGroup {
	out := make([]infra.NodeGroup, len(cfg))
	for i, ng := range cfg {
		out[i] = infra.NodeGroup{
			Name:          ng.Name,
			MinSize:       *ng.MinSize,
			DesiredSize:   *ng.DesiredSize,
			MaxSize:       *ng.MaxSize,
			InstanceTypes: ng.InstanceTypes,
			CapacityType:  ng.CapacityType,
			Flavor:        ng.Flavor,
			DiskSize:      ng.DiskSize,
			Labels:        ng.Labels,
			Taints:        ng.Taints,
		}
	}
	return out
}
