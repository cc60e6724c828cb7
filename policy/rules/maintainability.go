package rules

import (
	"fmt"
	"slices"
	"strings"
)

const (
	paramForbiddenTags  = "forbiddenTags"
	paramRequiredTags   = "requiredTags"
	paramRequiredLabels = "requiredLabels"
)

// awsTaggable are AWS types that take tags, checked even when the program sets none. Any other
// AWS resource that sets tags is checked as well.
var awsTaggable = []string{
	"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway",
	"aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/routeTable:RouteTable",
	"aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
	"aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance", "aws:ebs/volume:Volume",
	"aws:ec2/vpcEndpoint:VpcEndpoint", typeEKSCluster, typeEKSNodeGroup, "aws:eks/addon:Addon",
	"aws:eks/accessEntry:AccessEntry", "aws:eks/fargateProfile:FargateProfile",
	"aws:iam/role:Role", "aws:iam/policy:Policy", "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
	"aws:kms/key:Key", "aws:cloudwatch/logGroup:LogGroup", "aws:ecr/repository:Repository",
	typeRDSInstance, typeRDSCluster, "aws:rds/clusterInstance:ClusterInstance", "aws:rds/subnetGroup:SubnetGroup",
	"aws:rds/parameterGroup:ParameterGroup", "aws:rds/clusterParameterGroup:ClusterParameterGroup",
	typeMSKCluster, typeMSKServerless, typeElastiCacheGroup, typeElastiCacheNode,
	"aws:elasticache/subnetGroup:SubnetGroup", "aws:elasticache/parameterGroup:ParameterGroup",
	"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:secretsmanager/secret:Secret",
	typeDynamoDBTable, typeEFSFileSystem, "aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup",
	"aws:sqs/queue:Queue", "aws:sns/topic:Topic", "aws:acm/certificate:Certificate", "aws:route53/zone:Zone",
	"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
}

// openstackTaggable are OpenStack types that take a list of "key=value" tags.
var openstackTaggable = []string{
	"openstack:networking/network:Network", "openstack:networking/subnet:Subnet",
	"openstack:networking/router:Router", "openstack:networking/secGroup:SecGroup",
	"openstack:networking/port:Port", "openstack:networking/floatingIp:FloatingIp",
	"openstack:networking/subnetPool:SubnetPool", "openstack:compute/instance:Instance",
}

func maintainability() []Policy {
	return []Policy{
		{
			Name: "image-pinned", Goal: Maintainability, Level: Advisory,
			Description: "Every container image names an exact version (a tag other than the forbidden ones, or a digest), so a redeploy runs the code that was reviewed and a rollback is possible.",
			Params:      []Param{{paramForbiddenTags, KindStrings, []string{"latest", "stable", "main", "master"}, "Tags that move and so do not pin an image."}},
			Check:       checkImages,
		},
		{
			Name: "helm-chart-pinned", Goal: Maintainability, Level: Advisory,
			Description: "Every Helm release or chart names an exact chart version (charts from a local folder or archive are pinned by the repository), so a preview today and an update tomorrow install the same thing.",
			Check:       checkHelmVersion,
		},
		{
			Name: "required-tags", Goal: Maintainability, Level: Advisory,
			Description: "Every resource that takes tags or labels carries the ownership ones (project, stack, owner, component; as Kubernetes labels part-of, stack, owner, component), so cost, incidents and clean-up find their owner.",
			Params: []Param{
				{paramRequiredTags, KindStrings, []string{"project", "stack", "owner", "component"}, "Tag keys every AWS and OpenStack resource that takes tags carries."},
				{paramRequiredLabels, KindStrings, []string{"app.kubernetes.io/part-of", "app.kubernetes.io/component", "groundwork.io/stack", "groundwork.io/owner"}, "Label keys every Kubernetes object carries."},
			},
			Check: checkTags,
		},
	}
}

// imageProblem explains why an image reference is not pinned, or returns "".
func imageProblem(image string, forbidden []string) string {
	if image == "" {
		return "has no image"
	}
	if strings.Contains(image, "@sha256:") {
		return ""
	}
	last := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(last, ":")
	if !ok || tag == "" {
		return fmt.Sprintf("runs %q without a tag, which means :latest", image)
	}
	if slices.Contains(forbidden, tag) {
		return fmt.Sprintf("runs %q: the tag %q moves", image, tag)
	}
	return ""
}

func checkImages(r Resource, c Config) []string {
	forbidden := c.Strings(paramForbiddenTags)
	fix := "pin an exact version tag (e.g. the git SHA or a release like 1.4.2) or a digest (@sha256:...)"
	var out []string
	for _, ctr := range containers(r) {
		if unknown(get(ctr.spec, "image")) || injectedProxy(r, ctr) {
			continue
		}
		if p := imageProblem(str(ctr.spec, "image"), forbidden); p != "" {
			out = append(out, violation(r, ctr.label()+" "+p, fix))
		}
	}
	if isK8s(r.Type, cnpgGroup, "Cluster") && has(r.Properties, "spec.imageName") {
		if p := imageProblem(str(r.Properties, "spec.imageName"), forbidden); p != "" {
			out = append(out, violation(r, "spec.imageName "+p, fix))
		}
	}
	return out
}

// injectedProxy reports whether a container is the istio-proxy of a pod Istio's sidecar injector
// fills in: image "auto" is the injector's placeholder, replaced by the proxy image of the
// installed Istio, and the pod asks for injection (label sidecar.istio.io/inject "true", or the
// gateway injection template without that label set to "false"). Istio's gateway chart deploys
// this way. Any other "auto" is pulled as is, and fails:
// https://istio.io/latest/docs/reference/config/analysis/ist0146/
func injectedProxy(r Resource, ctr container) bool {
	if ctr.init || ctr.name != "istio-proxy" || str(ctr.spec, "image") != "auto" {
		return false
	}
	labels, _ := podLabels(r)
	switch labels["sidecar.istio.io/inject"] {
	case "true":
		return true
	case "false":
		return false
	}
	annotations, _ := podAnnotations(r)
	return slices.ContainsFunc(strings.Split(annotations["inject.istio.io/templates"], ","), func(t string) bool { return strings.TrimSpace(t) == "gateway" })
}

// isLocalChart reports whether a chart reference is a folder or archive on disk.
func isLocalChart(chart string) bool {
	return strings.HasPrefix(chart, "/") || strings.HasPrefix(chart, "./") || strings.HasPrefix(chart, "../") ||
		(strings.HasSuffix(chart, ".tgz") && !strings.Contains(chart, "://"))
}

func checkHelmVersion(r Resource, _ Config) []string {
	if r.Type != "kubernetes:helm.sh/v3:Release" && r.Type != "kubernetes:helm.sh/v4:Chart" && r.Type != ChartType {
		return nil
	}
	p := r.Properties
	if unknown(get(p, "version")) || unknown(get(p, "chart")) {
		return nil
	}
	chart, version := str(p, "chart"), strings.TrimSpace(str(p, "version"))
	if isLocalChart(chart) {
		return nil
	}
	fix := "set version to the exact chart version (e.g. \"1.30.0\"), a constant beside the component with the upstream release it tracks"
	switch {
	case version == "":
		return []string{violation(r, fmt.Sprintf("installs chart %q at whatever version the repository serves today", chart), fix)}
	case strings.ContainsAny(version, "^~*><|, ") || strings.HasSuffix(version, ".x") || version == "latest":
		return []string{violation(r, fmt.Sprintf("installs chart %q at the range %q", chart, version), fix)}
	}
	return nil
}

func checkTags(r Resource, c Config) []string {
	p := r.Properties
	switch {
	case strings.HasPrefix(r.Type, "aws:") && (slices.Contains(awsTaggable, r.Type) || has(p, "tags")):
		tags, known := stringMap(p, "tags")
		if !known {
			return nil
		}
		if m := missingKeys(c.Strings(paramRequiredTags), func(k string) bool { _, ok := tags[k]; return ok }); len(m) > 0 {
			return []string{violation(r, "has no tag "+strings.Join(m, ", "), "add the tags (infra.Tags.Map gives every one) to tags")}
		}
	case slices.Contains(openstackTaggable, r.Type):
		tags, known := stringList(p, "tags")
		if !known {
			return nil
		}
		keyed := func(k string) bool {
			return slices.ContainsFunc(tags, func(t string) bool { return strings.HasPrefix(t, k+"=") })
		}
		if m := missingKeys(c.Strings(paramRequiredTags), keyed); len(m) > 0 {
			return []string{violation(r, "has no tag "+strings.Join(m, ", "), "add \"key=value\" tags (infra.Tags.List gives every one) to tags")}
		}
	case isKubernetesObject(r.Type):
		labels, known := stringMap(p, "metadata.labels")
		if !known {
			return nil
		}
		if m := missingKeys(c.Strings(paramRequiredLabels), func(k string) bool { _, ok := labels[k]; return ok }); len(m) > 0 {
			return []string{violation(r, "has no label "+strings.Join(m, ", "), "add the labels (infra.Tags.Labels gives every one) to metadata.labels")}
		}
	}
	return nil
}

func missingKeys(want []string, present func(string) bool) []string {
	var out []string
	for _, k := range want {
		if !present(k) {
			out = append(out, k)
		}
	}
	return out
}
