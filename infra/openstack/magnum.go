package openstack

import (
	"fmt"
	"maps"
	"strings"

	"github.com/pulumi/pulumi-openstack/sdk/v3/go/openstack/containerinfra"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

type magnum struct {
	cluster *containerinfra.Cluster
	// ready are the resources a Kubernetes provider must wait for.
	ready []pulumi.Resource
}

// labels are the Magnum cluster-template labels Groundwork sets; Args.Labels override them.
func (b *builder) labels() map[string]string {
	a := b.args
	def := a.NodeGroups[0]
	l := map[string]string{
		"kube_tag":               "v" + a.KubernetesVersion,
		"cloud_provider_enabled": "true",
		"cinder_csi_enabled":     "true",
		// Magnum's autoscaler and auto-healer keep the default group within its bounds and
		// replace nodes that stop reporting Ready.
		"auto_scaling_enabled":     "true",
		"auto_healing_enabled":     "true",
		"auto_healing_controller":  "magnum-auto-healer",
		"min_node_count":           fmt.Sprint(def.MinSize),
		"max_node_count":           fmt.Sprint(def.MaxSize),
		"service_cluster_ip_range": a.ServiceCIDR,
		"calico_ipv4pool":          a.PodCIDR,
		// The API load balancer answers only the allowed ranges.
		"master_lb_floating_ip_enabled": fmt.Sprint(a.MasterLoadBalancer),
		"master_lb_allowed_cidrs":       strings.Join(a.APIAllowedCIDRs, ","),
	}
	if len(a.AvailabilityZones) == 1 {
		l["availability_zone"] = a.AvailabilityZones[0]
	}
	maps.Copy(l, a.Labels)
	return l
}

func (b *builder) magnum(net *network, externalNetworkID, imageID string) (*magnum, error) {
	a := b.args
	def := a.NodeGroups[0]
	labels := pulumi.Map{}
	for k, v := range b.labels() {
		labels[k] = pulumi.String(v)
	}
	tmpl := &containerinfra.ClusterTemplateArgs{
		Name:                pulumi.String(a.ClusterName),
		Coe:                 pulumi.String("kubernetes"),
		Image:               pulumi.String(imageID),
		Flavor:              pulumi.String(def.Flavor),
		MasterFlavor:        pulumi.String(a.MasterFlavor),
		DockerStorageDriver: pulumi.String("overlay2"),
		DockerVolumeSize:    pulumi.Int(def.DiskSize),
		NetworkDriver:       pulumi.String(a.NetworkDriver),
		VolumeDriver:        pulumi.String("cinder"),
		ExternalNetworkId:   pulumi.String(externalNetworkID),
		FixedNetwork:        net.networks[roleInternal].ID(),
		FixedSubnet:         net.subnets[roleInternal].ID(),
		MasterLbEnabled:     pulumi.Bool(a.MasterLoadBalancer),
		// Nodes stay on the internal network; only load balancers get floating IPs.
		FloatingIpEnabled: pulumi.Bool(false),
		ServerType:        pulumi.String("vm"),
		Public:            pulumi.Bool(false),
		TlsDisabled:       pulumi.Bool(false),
		Labels:            labels,
	}
	if len(a.DNSServers) > 0 {
		tmpl.DnsNameserver = pulumi.String(a.DNSServers[0])
	}
	if a.Keypair != "" {
		tmpl.KeypairId = pulumi.String(a.Keypair)
	}
	template, err := containerinfra.NewClusterTemplate(b.ctx, b.name+"-template", tmpl, b.opts()...)
	if err != nil {
		return nil, err
	}

	cargs := &containerinfra.ClusterArgs{
		Name:              pulumi.String(a.ClusterName),
		ClusterTemplateId: template.ID(),
		MasterCount:       pulumi.Int(a.MasterCount),
		MasterFlavor:      pulumi.String(a.MasterFlavor),
		NodeCount:         pulumi.Int(def.DesiredSize),
		Flavor:            pulumi.String(def.Flavor),
		DockerVolumeSize:  pulumi.Int(def.DiskSize),
		FixedNetwork:      net.networks[roleInternal].ID(),
		FixedSubnet:       net.subnets[roleInternal].ID(),
		FloatingIpEnabled: pulumi.Bool(false),
		MergeLabels:       pulumi.Bool(true),
		Labels:            labels,
		CreateTimeout:     pulumi.Int(90),
	}
	if a.Keypair != "" {
		cargs.Keypair = pulumi.String(a.Keypair)
	}
	cluster, err := containerinfra.NewCluster(b.ctx, b.name+"-magnum", cargs, b.opts(
		// The autoscaler owns the node count once the cluster exists.
		pulumi.IgnoreChanges([]string{"nodeCount"}),
	)...)
	if err != nil {
		return nil, err
	}
	m := &magnum{cluster: cluster, ready: []pulumi.Resource{cluster}}
	for _, ng := range a.NodeGroups[1:] {
		r, err := containerinfra.NewNodeGroup(b.ctx, b.name+"-"+ng.Name, &containerinfra.NodeGroupArgs{
			ClusterId:        cluster.ID(),
			Name:             pulumi.String(ng.Name),
			Role:             pulumi.String(ng.Name),
			FlavorId:         pulumi.String(ng.Flavor),
			DockerVolumeSize: pulumi.Int(ng.DiskSize),
			NodeCount:        pulumi.Int(ng.DesiredSize),
			MinNodeCount:     pulumi.Int(ng.MinSize),
			MaxNodeCount:     pulumi.Int(ng.MaxSize),
		}, b.opts(pulumi.IgnoreChanges([]string{"nodeCount"}))...)
		if err != nil {
			return nil, fmt.Errorf("node group %s: %w", ng.Name, err)
		}
		m.ready = append(m.ready, r)
	}
	return m, nil
}
