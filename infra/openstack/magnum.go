package openstack

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-openstack/sdk/v3/go/openstack/containerinfra"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Driver is the Magnum driver Groundwork builds for: the Cluster API Helm driver
// (https://opendev.org/openstack/magnum-capi-helm, tracked at 1.4.0), which Magnum picks for a
// template whose image has os_distro ubuntu or flatcar (driver.py, provides). Magnum 2025.1
// deprecated the Heat drivers in its favour
// (https://docs.openstack.org/releasenotes/magnum/2025.1.html); the Fedora CoreOS Heat driver
// has no runtime and component images for Kubernetes 1.34.
const Driver = "k8s_capi_helm_v1"

// ImageDistros are the os_distro image properties the driver accepts (driver.py, provides).
var ImageDistros = []string{"ubuntu", "flatcar"}

// DriverLabels are the cluster-template labels the driver reads (magnum_capi_helm/conf.py,
// capi_helm_cluster_labels, and capi_helm_chart_version); it ignores any other, such as the Heat
// drivers' kube_tag, container_runtime, availability_zone or master_lb_allowed_cidrs.
var DriverLabels = []string{
	"api_master_lb_allowed_cidrs", "auto_healing_enabled", "auto_scaling_enabled", "boot_volume_size",
	"boot_volume_type", "capi_helm_chart_version", "csi_cinder_allow_volume_expansion",
	"csi_cinder_availability_zone", "csi_cinder_fstype", "csi_cinder_reclaim_policy",
	"csi_cinder_volume_binding_mode", "etcd_blockdevice_size", "etcd_blockdevice_type",
	"etcd_blockdevice_volume_az", "etcd_blockdevice_volume_type", "extra_network_names",
	"fixed_subnet_cidr", "keystone_auth_enabled", "kube_dashboard_enabled",
	"master_lb_floating_ip_enabled", "max_node_count", "min_node_count", "monitoring_enabled",
	"octavia_lb_algorithm", "octavia_lb_healthcheck", "octavia_provider",
}

// capiHelmChartVersion pins azimuth-cloud/capi-helm-charts' openstack-cluster chart the driver
// deploys (release 0.27.0, whose CI upgrades clusters to Kubernetes 1.34); the driver's own
// default (0.10.1) predates 1.34.
const capiHelmChartVersion = "0.27.0"

type magnum struct {
	cluster  *containerinfra.Cluster
	template *containerinfra.ClusterTemplate
	// ready are the resources a Kubernetes provider must wait for.
	ready []pulumi.Resource
}

// labels are the Magnum cluster-template labels Groundwork sets; Args.Labels override them. Each
// is one the driver reads (magnum_capi_helm/conf.py, capi_helm_cluster_labels); the Kubernetes
// version is not a label for this driver: it is the image's kube_version property.
func (b *builder) labels() map[string]string {
	a := b.args
	def := a.NodeGroups[0]
	l := map[string]string{
		"capi_helm_chart_version": capiHelmChartVersion,
		// The autoscaler and the machine health checks keep the default group within its
		// bounds and replace nodes that stop reporting Ready.
		"auto_scaling_enabled": "true",
		"auto_healing_enabled": "true",
		"min_node_count":       fmt.Sprint(def.MinSize),
		"max_node_count":       fmt.Sprint(def.MaxSize),
		// The platform installs its own monitoring and needs no dashboard.
		"monitoring_enabled":     "false",
		"kube_dashboard_enabled": "false",
		"boot_volume_size":       fmt.Sprint(def.DiskSize),
		// The driver always fronts the API servers with an Octavia load balancer
		// (driver.py: apiServer.enableLoadBalancer: True); a floating IP on it is how a deploy
		// host outside the networks reaches the API, admitted only from the allowed ranges
		// (api_master_lb_allowed_cidrs; empty would admit every address). Octavia applies the
		// list to the internal VIP too, so the nodes' network is always on it.
		"master_lb_floating_ip_enabled": fmt.Sprint(a.APIFloatingIP),
		"api_master_lb_allowed_cidrs":   strings.Join(apiCIDRs(a.NetworkCIDR, a.APIAllowedCIDRs), ","),
	}
	maps.Copy(l, a.Labels)
	return l
}

// apiCIDRs is the stack's network and the allowed ranges, each once, in order.
func apiCIDRs(network string, allowed []string) []string {
	out := []string{network}
	for _, c := range allowed {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// templateName names the template after what it holds, so that a change makes a new template
// instead of editing one in use, which Magnum refuses (magnum/db/sqlalchemy/api.py,
// update_cluster_template: ClusterTemplateReferenced).
func templateName(cluster string, plain map[string]any) string {
	keys := slices.Sorted(maps.Keys(plain))
	h := sha256.New()
	for _, k := range keys {
		v, _ := json.Marshal(plain[k])
		fmt.Fprintf(h, "%s=%s\n", k, v)
	}
	return cluster + "-" + hex.EncodeToString(h.Sum(nil))[:8]
}

func (b *builder) magnum(net *network, externalNetworkID, imageID string) (*magnum, error) {
	a := b.args
	def := a.NodeGroups[0]
	plainLabels := b.labels()
	labels := pulumi.Map{}
	for k, v := range plainLabels {
		labels[k] = pulumi.String(v)
	}
	plain := map[string]any{
		"image": imageID, "flavor": def.Flavor, "masterFlavor": a.MasterFlavor, "diskSize": def.DiskSize,
		"networkDriver": a.NetworkDriver, "externalNetwork": externalNetworkID, "labels": plainLabels,
		"dns": a.DNSServers, "keypair": a.Keypair,
	}
	tmpl := &containerinfra.ClusterTemplateArgs{
		Name:                pulumi.String(templateName(a.ClusterName, plain)),
		Coe:                 pulumi.String("kubernetes"),
		Image:               pulumi.String(imageID),
		Flavor:              pulumi.String(def.Flavor),
		MasterFlavor:        pulumi.String(a.MasterFlavor),
		DockerStorageDriver: pulumi.String("overlay2"),
		DockerVolumeSize:    pulumi.Int(def.DiskSize),
		// The driver passes it as the chart's CNI (driver.py, _get_cni_type).
		NetworkDriver:     pulumi.String(a.NetworkDriver),
		VolumeDriver:      pulumi.String("cinder"),
		ExternalNetworkId: pulumi.String(externalNetworkID),
		FixedNetwork:      net.networks[roleInternal].ID(),
		FixedSubnet:       net.subnets[roleInternal].ID(),
		MasterLbEnabled:   pulumi.Bool(true),
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
	// Any change makes a new template (its name holds a hash of the inputs, and a new name
	// replaces it) before the old one is deleted, so the cluster moves to it in place.
	template, err := containerinfra.NewClusterTemplate(b.ctx, b.name+"-template", tmpl, b.opts(
		pulumi.ReplaceOnChanges([]string{"name", "fixedNetwork", "fixedSubnet"}),
	)...)
	if err != nil {
		return nil, err
	}

	// The cluster sets only what can change in place or never changes. In the provider's
	// schema (terraform-provider-openstack, openstack/resource_openstack_containerinfra_cluster_v1.go)
	// labels, merge_labels, flavor, master_flavor, docker_volume_size, keypair, master_count,
	// fixed_network and floating_ip_enabled are ForceNew: setting labels here would replace the
	// whole cluster on a version bump. Left unset, they come from the template. Only
	// cluster_template_id (Magnum's upgrade action) and node_count update in place.
	cargs := &containerinfra.ClusterArgs{
		Name:              pulumi.String(a.ClusterName),
		ClusterTemplateId: template.ID(),
		MasterCount:       pulumi.Int(a.MasterCount),
		NodeCount:         pulumi.Int(def.DesiredSize),
		FixedNetwork:      net.networks[roleInternal].ID(),
		FixedSubnet:       net.subnets[roleInternal].ID(),
		CreateTimeout:     pulumi.Int(90),
	}
	cluster, err := containerinfra.NewCluster(b.ctx, b.name+"-magnum", cargs, b.opts(
		// The autoscaler owns the node count once the cluster exists.
		pulumi.IgnoreChanges([]string{"nodeCount"}),
	)...)
	if err != nil {
		return nil, err
	}
	m := &magnum{cluster: cluster, template: template, ready: []pulumi.Resource{cluster}}
	for _, ng := range a.NodeGroups[1:] {
		// min_node_count and max_node_count update in place; flavor, volume size and role
		// replace the group only (resource_openstack_containerinfra_nodegroup_v1.go).
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
