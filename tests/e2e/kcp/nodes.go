package kcp

import (
	"context"
	"embed"
	"fmt"
	"os"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kwok/ holds the stages kwok plays (upstream's kustomize/stage/{node,pod}/fast of v0.8.0):
// nodes become Ready and keep their lease, scheduled pods become Running and Ready with an
// address from their node's podCIDR, Job pods complete, deleted pods go away.
//
//go:embed kwok/*.yaml
var kwokStages embed.FS

var stageFiles = []string{"node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-complete", "pod-delete"}

// kwokNodeAnnotation marks the nodes kwok manages (and only those).
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

var getOpts = metav1.GetOptions{}

func writeKwokConfig(path string, port int) error {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  cidr: %s
  nodePort: %d
  manageAllNodes: false
  manageNodesWithAnnotationSelector: '%s=fake'
  nodeLeaseDurationSeconds: 40
  nodeLeaseParallelism: 4
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  enablePodsOnNodeSyncListPager: false
  enablePodsOnNodeSyncStreamWatch: true
  enableProfilingHandler: false
  enableContentionProfiling: false
`, podCIDR, port, kwokNodeAnnotation)
	for _, s := range stageFiles {
		y, err := kwokStages.ReadFile("kwok/" + s + ".yaml")
		if err != nil {
			return err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// createNodes registers one kwok node per zone: node-<zone>, podCIDR 10.244.<i+1>.0/24,
// InternalIP 10.0.0.<11+i> (fake: nothing connects to it), the capacity of Options.
func (c *Cluster) createNodes(ctx context.Context) error {
	o := c.opts
	capacity := corev1.ResourceList{}
	for k, v := range map[corev1.ResourceName]string{
		corev1.ResourceCPU: o.NodeCPU, corev1.ResourceMemory: o.NodeMemory,
		corev1.ResourcePods: strconv.Itoa(o.NodePods), corev1.ResourceEphemeralStorage: "1Ti",
	} {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return fmt.Errorf("node capacity %s=%q: %w", k, v, err)
		}
		capacity[k] = q
	}
	for i, zone := range o.Zones {
		name := "node-" + zone
		cidr := fmt.Sprintf("10.244.%d.0/24", i+1)
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{kwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels: map[string]string{
					"kubernetes.io/arch":               "amd64",
					"kubernetes.io/os":                 "linux",
					"kubernetes.io/hostname":           name,
					"node.kubernetes.io/instance-type": "kwok",
					"topology.kubernetes.io/region":    o.Region,
					"topology.kubernetes.io/zone":      zone,
					"type":                             "kwok",
				},
			},
			Spec: corev1.NodeSpec{PodCIDR: cidr, PodCIDRs: []string{cidr}},
			Status: corev1.NodeStatus{
				Addresses: []corev1.NodeAddress{
					{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.0.0.%d", 11+i)},
					{Type: corev1.NodeHostName, Address: name},
				},
				Capacity:    capacity,
				Allocatable: capacity,
				NodeInfo: corev1.NodeSystemInfo{
					Architecture: "amd64", OperatingSystem: "linux",
					KubeletVersion: KubernetesVersion,
				},
			},
		}
		if _, err := c.Client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
		c.Nodes = append(c.Nodes, name)
	}
	return nil
}

// nodesReady reports whether every node is Ready with its capacity.
func (c *Cluster) nodesReady(ctx context.Context) (bool, error) {
	for _, name := range c.Nodes {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, name, getOpts)
		if err != nil {
			return false, err
		}
		ready := false
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			return false, fmt.Errorf("node %s not Ready yet", name)
		}
		if _, ok := n.Status.Allocatable[corev1.ResourcePods]; !ok {
			return false, fmt.Errorf("node %s has no allocatable pods", name)
		}
	}
	return true, nil
}
