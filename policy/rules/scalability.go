package rules

import (
	"fmt"
	"strings"
)

const (
	paramRequireCPULimit = "requireCpuLimit"
	paramHPAMinReplicas  = "minReplicas"
)

func scalability() []Policy {
	return []Policy{
		{
			Name: "workload-resources", Goal: Scalability, Level: Advisory,
			Description: "Every container (and the pods of CloudNativePG clusters and Strimzi node pools) declares CPU and memory requests and limits, so the scheduler and the autoscalers can place and scale it and one pod cannot starve a node.",
			Params:      []Param{{paramRequireCPULimit, KindBool, true, "Require a CPU limit as well as a request (turn off to allow CPU bursting)."}},
			Check:       checkResources,
		},
		{
			Name: "autoscaler-range", Goal: Scalability, Level: Advisory,
			Description: "Every HorizontalPodAutoscaler can scale: maxReplicas above minReplicas, and minReplicas at least the replica floor.",
			Params:      []Param{{paramHPAMinReplicas, KindInt, 2, "Lowest minReplicas an autoscaler may scale down to."}},
			Check:       checkAutoscaler,
		},
		{
			Name: "node-group-scaling", Goal: Scalability, Level: Advisory,
			Description: "Node groups have room to grow: maximum size above the desired size (EKS node groups, autoscaling groups, Magnum clusters and cluster templates with autoscaling on, Magnum node groups).",
			Check:       checkNodeGroupScaling,
		},
	}
}

func checkResources(r Resource, c Config) []string {
	want := []string{"requests.cpu", "requests.memory", "limits.memory"}
	if c.Bool(paramRequireCPULimit) {
		want = append(want, "limits.cpu")
	}
	missing := func(res string, base func(string) bool) []string {
		var out []string
		for _, w := range want {
			if !base(res + "." + w) {
				out = append(out, w)
			}
		}
		return out
	}
	fix := func(m []string, where string) string {
		return fmt.Sprintf("set %s under %s (measure the service under load; memory limit = request is the safe default)", strings.Join(m, ", "), where)
	}
	switch {
	case isWorkload(r):
		var out []string
		for _, ctr := range containers(r) {
			if unknown(get(ctr.spec, "resources")) {
				continue
			}
			if m := missing("resources", func(p string) bool { return has(ctr.spec, p) }); len(m) > 0 {
				out = append(out, violation(r, fmt.Sprintf("%s has no %s", ctr.label(), strings.Join(m, ", ")), fix(m, "the container's resources")))
			}
		}
		return out
	case isK8s(r.Type, cnpgGroup, "Cluster"), isK8s(r.Type, strimziGroup, "KafkaNodePool"):
		if unknown(get(r.Properties, "spec.resources")) {
			return nil
		}
		if m := missing("spec.resources", func(p string) bool { return has(r.Properties, p) }); len(m) > 0 {
			return []string{violation(r, "its pods have no "+strings.Join(m, ", "), fix(m, "spec.resources"))}
		}
	}
	return nil
}

func checkAutoscaler(r Resource, c Config) []string {
	if !isK8s(r.Type, "autoscaling", "HorizontalPodAutoscaler") {
		return nil
	}
	p := r.Properties
	max, maxOK, maxKnown := number(p, "spec.maxReplicas")
	min, minOK, minKnown := number(p, "spec.minReplicas")
	if !maxKnown || !minKnown {
		return nil
	}
	if !minOK {
		min = 1 // the Kubernetes default
	}
	var out []string
	if floor := c.Int(paramHPAMinReplicas); int(min) < floor {
		out = append(out, violation(r, fmt.Sprintf("may scale down to %d replica(s), fewer than %d", int(min), floor),
			fmt.Sprintf("set spec.minReplicas to %d or more", floor)))
	}
	if maxOK && max <= min {
		out = append(out, violation(r, fmt.Sprintf("cannot scale: maxReplicas %d is not above minReplicas %d", int(max), int(min)),
			"set spec.maxReplicas above spec.minReplicas (the peak load divided by one pod's capacity)"))
	}
	return out
}

func checkNodeGroupScaling(r Resource, _ Config) []string {
	p := r.Properties
	type sizes struct{ desired, max, desiredKey, maxKey string }
	var s sizes
	switch r.Type {
	case typeEKSNodeGroup:
		s = sizes{"scalingConfig.desiredSize", "scalingConfig.maxSize", "scalingConfig.desiredSize", "scalingConfig.maxSize"}
	case typeAutoscalingGroup:
		s = sizes{"desiredCapacity", "maxSize", "desiredCapacity", "maxSize"}
		if !has(p, "desiredCapacity") {
			s.desired, s.desiredKey = "minSize", "minSize"
		}
	case typeMagnumNodeGroup:
		s = sizes{"nodeCount", "maxNodeCount", "nodeCount", "maxNodeCount"}
	case typeMagnumCluster, typeMagnumTemplate:
		// Groundwork's clusters set no labels (they would force a new cluster): the template
		// carries them, and there the minimum stands in for the desired size.
		if !has(p, "labels") {
			return nil
		}
		if v := boolean(p, "labels.auto_scaling_enabled"); v != isTrue {
			if v == isUnknown {
				return nil
			}
			return []string{violation(r, "has the cluster autoscaler off", `set the Magnum label auto_scaling_enabled: "true" with min_node_count and max_node_count`)}
		}
		s = sizes{"nodeCount", "labels.max_node_count", "nodeCount", "labels.max_node_count"}
		if r.Type == typeMagnumTemplate {
			s.desired, s.desiredKey = "labels.min_node_count", "labels.min_node_count"
		}
	default:
		return nil
	}
	desired, dOK, dKnown := number(p, s.desired)
	max, mOK, mKnown := number(p, s.max)
	if !dKnown || !mKnown {
		return nil
	}
	if !mOK {
		return []string{violation(r, "has no maximum size", "set "+s.maxKey+" above "+s.desiredKey)}
	}
	if dOK && max <= desired {
		return []string{violation(r, fmt.Sprintf("cannot grow: maximum %d is not above desired %d", int(max), int(desired)),
			fmt.Sprintf("raise %s above %d so the autoscaler can add nodes under load", s.maxKey, int(desired)))}
	}
	return nil
}
