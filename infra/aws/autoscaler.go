package aws

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/infra"
)

// AutoscalerChart is the Kubernetes cluster autoscaler's chart: upstream chart 9.53.0
// (kubernetes/autoscaler tag cluster-autoscaler-chart-9.53.0, commit a2db9eb71c28), which runs
// cluster-autoscaler 1.34.2, the release for Kubernetes 1.34.
var AutoscalerChart = chart.Spec{Name: "cluster-autoscaler", Version: "9.53.0", Repo: "https://kubernetes.github.io/autoscaler"}

// The autoscaler's image, pinned to the chart's appVersion: upstream cluster-autoscaler v1.34.2
// (registry.k8s.io/autoscaling/cluster-autoscaler).
const (
	autoscalerRegistry = "registry.k8s.io/autoscaling"
	AutoscalerImageTag = "v1.34.2"
)

// Autoscaler identity: its service account in kube-system, which its IAM role trusts.
const (
	AutoscalerNamespace      = "kube-system"
	AutoscalerServiceAccount = "cluster-autoscaler"
)

// Scale-down settings of the autoscaler: a node whose pods request less than half of its
// allocatable CPU and memory for ten minutes is drained and removed, but never within ten
// minutes of a scale-up, so a burst does not flap.
var autoscalerScaleDown = map[string]string{
	"scale-down-enabled":               "true",
	"scale-down-utilization-threshold": "0.5",
	"scale-down-unneeded-time":         "10m",
	"scale-down-delay-after-add":       "10m",
}

// AutoscalerTags are the tags the autoscaler discovers a cluster's Auto Scaling groups by (its
// chart's autoDiscovery.tags), and the tags its IAM role may act on.
func AutoscalerTags(clusterName string) map[string]string {
	return map[string]string{
		"k8s.io/cluster-autoscaler/enabled":        "true",
		"k8s.io/cluster-autoscaler/" + clusterName: "owned",
	}
}

// autoscaler installs the cluster autoscaler with an IAM role (IRSA) that may resize only this
// cluster's node groups: the groups' minSize and maxSize bound it, and it owns desiredSize.
func (b *builder) autoscaler(provider *kubernetes.Provider, eks *cluster, accountID string) error {
	a := b.args
	r, err := b.serviceAccountRole("cluster-autoscaler", eks.oidc, AutoscalerNamespace, AutoscalerServiceAccount)
	if err != nil {
		return err
	}
	policy, err := iam.NewRolePolicy(b.ctx, b.name+"-cluster-autoscaler", &iam.RolePolicyArgs{
		Role:   r.ID(),
		Policy: pulumi.String(autoscalerPolicy(b.partition, a.Region, accountID, a.ClusterName)),
	}, b.opts(pulumi.Parent(r.Role))...)
	if err != nil {
		return err
	}
	r.policies = append(r.policies, policy)

	replicas := 1
	spread := pulumi.Array{}
	if a.HA {
		// Leader election keeps one active; the second takes over when its node goes, or its
		// zone: the two run in different zones where they can.
		replicas = 2
		spread = pulumi.Array{pulumi.Map{
			"maxSkew": pulumi.Int(1), "topologyKey": pulumi.String("topology.kubernetes.io/zone"),
			"whenUnsatisfiable": pulumi.String("ScheduleAnyway"),
			// The chart's pod label for the release (cluster-autoscaler.instance-name).
			"labelSelector": pulumi.Map{"matchLabels": pulumi.StringMap{"app.kubernetes.io/instance": pulumi.String("cluster-autoscaler")}},
		}}
	}
	extraArgs := pulumi.Map{
		"logtostderr":     pulumi.Bool(true),
		"stderrthreshold": pulumi.String("info"),
		"v":               pulumi.Int(2),
		// Node groups that differ only by zone grow evenly, so zone spreading holds.
		"balance-similar-node-groups": pulumi.Bool(true),
		"expander":                    pulumi.String("least-waste"),
		// Pods with emptyDir volumes (caches, /tmp on read-only roots) do not pin a node.
		"skip-nodes-with-local-storage": pulumi.Bool(false),
	}
	for k, v := range autoscalerScaleDown {
		extraArgs[k] = pulumi.String(v)
	}
	values := pulumi.Map{
		"cloudProvider":    pulumi.String("aws"),
		"awsRegion":        pulumi.String(a.Region),
		"fullnameOverride": pulumi.String("cluster-autoscaler"),
		// The chart's default discovery tags: k8s.io/cluster-autoscaler/enabled and
		// k8s.io/cluster-autoscaler/<clusterName>, as AutoscalerTags.
		"autoDiscovery": pulumi.Map{"clusterName": pulumi.String(a.ClusterName)},
		"image": pulumi.Map{
			"repository": pulumi.String(chart.Registry(a.ImageMirror, autoscalerRegistry) + "/cluster-autoscaler"),
			"tag":        pulumi.String(AutoscalerImageTag),
		},
		"rbac": pulumi.Map{"serviceAccount": pulumi.Map{
			"create":      pulumi.Bool(true),
			"name":        pulumi.String(AutoscalerServiceAccount),
			"annotations": pulumi.Map{infra.RoleAnnotation: r.Arn},
		}},
		"replicaCount":              pulumi.Int(replicas),
		"topologySpreadConstraints": spread,
		"priorityClassName":         pulumi.String("system-cluster-critical"),
		"extraArgs":                 extraArgs,
		"resources": pulumi.Map{
			"requests": pulumi.Map{"cpu": pulumi.String("100m"), "memory": pulumi.String("300Mi")},
			"limits":   pulumi.Map{"cpu": pulumi.String("1"), "memory": pulumi.String("600Mi")},
		},
		"podDisruptionBudget": pulumi.Map{"maxUnavailable": pulumi.Int(1)},
		"securityContext": pulumi.Map{
			"runAsNonRoot": pulumi.Bool(true), "runAsUser": pulumi.Int(65534), "runAsGroup": pulumi.Int(65534),
			"seccompProfile": pulumi.Map{"type": pulumi.String("RuntimeDefault")},
		},
		"containerSecurityContext": pulumi.Map{
			"allowPrivilegeEscalation": pulumi.Bool(false),
			"readOnlyRootFilesystem":   pulumi.Bool(true),
			"capabilities":             pulumi.Map{"drop": pulumi.StringArray{pulumi.String("ALL")}},
		},
	}
	_, err = chart.Install(b.ctx, b.name+"-cluster-autoscaler", AutoscalerChart, a.ChartSource, chart.Args{
		Release:   "cluster-autoscaler",
		Namespace: AutoscalerNamespace,
		Values:    values,
		Labels:    a.Tags.LabelMap("cluster-autoscaler"),
	}, b.opts(pulumi.Providers(provider), pulumi.DependsOn(append(eks.nodeGroups, r.deps()...)))...)
	return err
}

// autoscalerPolicy lets the autoscaler read every Auto Scaling group and instance type, but
// resize or shrink only the groups tagged as this cluster's, and describe only its node groups
// (cluster-autoscaler/cloudprovider/aws/README.md, "Full Cluster Autoscaler Features Policy",
// with the tag conditions it recommends:
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/control-access-using-iam.html).
func autoscalerPolicy(partition, region, accountID, clusterName string) string {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{
			map[string]any{
				"Sid":    "Discover",
				"Effect": "Allow",
				"Action": []string{
					"autoscaling:DescribeAutoScalingGroups",
					"autoscaling:DescribeAutoScalingInstances",
					"autoscaling:DescribeLaunchConfigurations",
					"autoscaling:DescribeScalingActivities",
					"ec2:DescribeImages",
					"ec2:DescribeInstanceTypes",
					"ec2:DescribeLaunchTemplateVersions",
					"ec2:GetInstanceTypesFromInstanceRequirements",
				},
				"Resource": "*",
			},
			map[string]any{
				"Sid":      "ScaleFromZero",
				"Effect":   "Allow",
				"Action":   "eks:DescribeNodegroup",
				"Resource": fmt.Sprintf("arn:%s:eks:%s:%s:nodegroup/%s/*/*", partition, region, accountID, clusterName),
			},
			map[string]any{
				"Sid":      "ResizeOwnGroups",
				"Effect":   "Allow",
				"Action":   []string{"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"},
				"Resource": "*",
				"Condition": map[string]any{"StringEquals": map[string]string{
					"aws:ResourceTag/k8s.io/cluster-autoscaler/enabled":        "true",
					"aws:ResourceTag/k8s.io/cluster-autoscaler/" + clusterName: "owned",
				}},
			},
		},
	}
	// Maps of strings always marshal; the error is impossible here.
	out, _ := json.Marshal(doc)
	return string(out)
}
