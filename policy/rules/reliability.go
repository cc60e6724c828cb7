package rules

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// Type tokens of managed services outside the cluster.
const (
	typeRDSInstance      = "aws:rds/instance:Instance"
	typeRDSCluster       = "aws:rds/cluster:Cluster"
	typeMSKCluster       = "aws:msk/cluster:Cluster"
	typeMSKServerless    = "aws:msk/serverlessCluster:ServerlessCluster"
	typeMSKConfiguration = "aws:msk/configuration:Configuration"
	typeElastiCacheGroup = "aws:elasticache/replicationGroup:ReplicationGroup"
	typeElastiCacheNode  = "aws:elasticache/cluster:Cluster"
	typeDynamoDBTable    = "aws:dynamodb/table:Table"
	typeEFSFileSystem    = "aws:efs/fileSystem:FileSystem"
	typeEKSCluster       = "aws:eks/cluster:Cluster"
	typeEKSNodeGroup     = "aws:eks/nodeGroup:NodeGroup"
	typeAutoscalingGroup = "aws:autoscaling/group:Group"
	typeMagnumCluster    = "openstack:containerinfra/cluster:Cluster"
	typeMagnumTemplate   = "openstack:containerinfra/clusterTemplate:ClusterTemplate"
	typeMagnumNodeGroup  = "openstack:containerinfra/nodeGroup:NodeGroup"
	typeKafkaTopic       = "kafka:index/topic:Topic"
	topologyZoneLabel    = "topology.kubernetes.io/zone"
	strimziGroup         = "kafka.strimzi.io"
	cnpgGroup            = "postgresql.cnpg.io"
	paramMinReplicas     = "minReplicas"
	paramMinZones        = "minZones"
	paramMinInstances    = "minInstances"
	paramTopologyKey     = "topologyKey"
	paramMinBackupDays   = "minBackupRetentionDays"
	paramMinSnapshotDays = "minSnapshotRetentionDays"
	paramMinReplication  = "minReplicationFactor"
	paramMinInsync       = "minInsyncReplicas"
	paramMinBrokers      = "minBrokers"
	paramProtectedTypes  = "protectedTypes"
)

func reliability() []Policy {
	return []Policy{
		{
			Name: "workload-replicas", Goal: Reliability, Level: Advisory,
			Description: "Deployments and StatefulSets run at least minReplicas pods, so losing a pod or a node does not take the service down.",
			Params:      []Param{{paramMinReplicas, KindInt, 2, "Fewest replicas a Deployment or StatefulSet may run."}},
			Check:       checkReplicas,
		},
		{
			Name: "workload-probes", Goal: Reliability, Level: Advisory,
			Description: "Every container of a Deployment, StatefulSet or DaemonSet has a readiness and a liveness probe, so traffic only reaches ready pods and hung pods are restarted.",
			Check:       checkProbes,
		},
		{
			Name: "workload-zone-spread", Goal: Reliability, Level: Advisory,
			Description: "Deployments and StatefulSets with several replicas spread them across zones (topologySpreadConstraints or pod anti-affinity on the zone label), so a zone outage leaves replicas running.",
			Params:      []Param{{paramTopologyKey, KindString, topologyZoneLabel, "Node label that names the zone."}},
			Check:       checkZoneSpread,
		},
		{
			Name: "workload-disruption-budget", Goal: Reliability, Level: Advisory,
			Description: "Every StatefulSet is covered by a PodDisruptionBudget, and no PodDisruptionBudget forbids every eviction (which blocks node drains and upgrades). Deployments are checked by stack-deployment-companions.",
			CheckStack:  checkDisruptionBudgets,
		},
		{
			Name: "database-high-availability", Goal: Reliability, Level: Advisory,
			Description: "Databases survive the loss of an instance or a zone: RDS Multi-AZ, CloudNativePG clusters with minInstances instances, ElastiCache with a replica, automatic failover and Multi-AZ.",
			Params:      []Param{{paramMinInstances, KindInt, 3, "Fewest instances of an in-cluster PostgreSQL (CloudNativePG) cluster."}},
			Check:       checkDatabaseHA,
		},
		{
			Name: "database-backups", Goal: Reliability, Level: Advisory,
			Description: "Databases keep backups: RDS retains automated backups minBackupRetentionDays days and takes a final snapshot, CloudNativePG clusters have a backup with a retention policy, ElastiCache keeps snapshots.",
			Params: []Param{
				{paramMinBackupDays, KindInt, 7, "Fewest days automated database backups are kept."},
				{paramMinSnapshotDays, KindInt, 1, "Fewest days ElastiCache snapshots are kept."},
			},
			Check: checkBackups,
		},
		{
			Name: "kafka-replication", Goal: Reliability, Level: Advisory,
			Description: "Kafka keeps every record on minReplicationFactor brokers and acknowledges a write only once minInsyncReplicas have it: topics (Kafka provider, Strimzi KafkaTopic), Strimzi Kafka clusters and node pools, MSK clusters and configurations.",
			Params: []Param{
				{paramMinReplication, KindInt, 3, "Fewest replicas of a topic (and default.replication.factor)."},
				{paramMinInsync, KindInt, 2, "Fewest in-sync replicas (min.insync.replicas)."},
				{paramMinBrokers, KindInt, 3, "Fewest brokers of a Kafka cluster."},
			},
			Check: checkKafka,
		},
		{
			Name: "node-groups-span-zones", Goal: Reliability, Level: Advisory,
			Description: "Node groups span at least minZones zones: EKS node groups and autoscaling groups get a subnet per zone, Magnum clusters and node groups are not pinned to one availability zone.",
			Params:      []Param{{paramMinZones, KindInt, 2, "Fewest zones a node group spans."}},
			Check:       checkNodeGroupZones,
		},
		{
			Name: "deletion-protection", Goal: Reliability, Level: Advisory,
			Description: "Stateful managed services cannot be deleted by accident: RDS and DynamoDB with their deletion protection on, other stateful services (MSK, ElastiCache, EFS) with Pulumi's protect option.",
			Params: []Param{
				{paramProtectedTypes, KindStrings, []string{typeMSKCluster, typeMSKServerless, typeElastiCacheGroup, typeElastiCacheNode, typeEFSFileSystem}, "Types that must carry Pulumi's protect option."},
			},
			Check: checkDeletionProtection,
		},
	}
}

func checkReplicas(r Resource, c Config) []string {
	if !isDeployment(r.Type) && !isStatefulSet(r.Type) {
		return nil
	}
	n, known := replicas(r)
	if min := c.Int(paramMinReplicas); known && n < min {
		return []string{violation(r, fmt.Sprintf("runs %d replica(s), fewer than %d", n, min),
			fmt.Sprintf("set spec.replicas to %d or more (and the HorizontalPodAutoscaler's minReplicas)", min))}
	}
	return nil
}

func checkProbes(r Resource, _ Config) []string {
	if !isDeployment(r.Type) && !isStatefulSet(r.Type) && !isK8s(r.Type, "apps", "DaemonSet") {
		return nil
	}
	var out []string
	for _, ctr := range containers(r) {
		if ctr.init {
			continue
		}
		var missing []string
		for _, probe := range []string{"readinessProbe", "livenessProbe"} {
			if !has(ctr.spec, probe) {
				missing = append(missing, probe)
			}
		}
		if len(missing) > 0 {
			out = append(out, violation(r, fmt.Sprintf("%s has no %s", ctr.label(), strings.Join(missing, " and no ")),
				"add "+strings.Join(missing, " and ")+" (an HTTP or TCP check of the service's health endpoint) to the container"))
		}
	}
	return out
}

func checkZoneSpread(r Resource, c Config) []string {
	if !isDeployment(r.Type) && !isStatefulSet(r.Type) {
		return nil
	}
	if n, known := replicas(r); known && n < 2 {
		return nil // one replica cannot spread; workload-replicas reports it
	}
	key := c.String(paramTopologyKey)
	spec := podSpecPath(r.Type)
	if v := get(r.Properties, spec); v.IsComputed() {
		return nil
	}
	for _, tsc := range mapsOf(r.Properties, spec+".topologySpreadConstraints") {
		if v := get(tsc, "topologyKey"); v.IsComputed() || str(tsc, "topologyKey") == key {
			return nil
		}
	}
	for _, t := range mapsOf(r.Properties, spec+".affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution") {
		if str(t, "topologyKey") == key {
			return nil
		}
	}
	for _, t := range mapsOf(r.Properties, spec+".affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution") {
		if str(t, "podAffinityTerm.topologyKey") == key {
			return nil
		}
	}
	return []string{violation(r, "its replicas may all land in one zone: no topology spread constraint or pod anti-affinity on "+quote(key),
		fmt.Sprintf("add spec.template.spec.topologySpreadConstraints with topologyKey %q, maxSkew 1 and a labelSelector matching the pods", key))}
}

// pdbAllowsNoEviction reports whether a PodDisruptionBudget forbids every voluntary eviction of
// a workload with n replicas.
func pdbAllowsNoEviction(pdb Resource, n int) bool {
	if v := get(pdb.Properties, "spec.maxUnavailable"); !v.IsNull() {
		if v.IsNumber() {
			return v.AsNumber() == 0
		}
		return v.IsString() && strings.TrimSpace(v.AsString()) == "0%"
	}
	v := get(pdb.Properties, "spec.minAvailable")
	switch {
	case v.IsNumber():
		return int(v.AsNumber()) >= n
	case v.IsString():
		return strings.TrimSpace(v.AsString()) == "100%"
	}
	return false
}

// pdbsFor lists the PodDisruptionBudgets in a workload's namespace whose selector selects its pods.
// known is false when a namespace or selector needed is unknown.
func pdbsFor(w Resource, rs []Resource) (out []Resource, known bool) {
	labels, ok := podLabels(w)
	ns := namespaceOf(w)
	if !ok || ns == "?" {
		return nil, false
	}
	known = true
	for _, p := range rs {
		if !isK8s(p.Type, "policy", "PodDisruptionBudget") {
			continue
		}
		pns := namespaceOf(p)
		if pns == "?" {
			known = false
			continue
		}
		if pns != ns || len(labels) == 0 {
			continue
		}
		match, ok := selects(p.Properties, "spec.selector", labels)
		if !ok {
			known = false
		}
		if match && get(p.Properties, "spec.selector").IsMap() {
			out = append(out, p)
		}
	}
	return out, known
}

func checkDisruptionBudgets(rs []Resource, _ Config) []Finding {
	var out []Finding
	for _, w := range rs {
		if !isDeployment(w.Type) && !isStatefulSet(w.Type) {
			continue
		}
		pdbs, known := pdbsFor(w, rs)
		if isStatefulSet(w.Type) && known && len(pdbs) == 0 {
			out = append(out, Finding{w, violation(w, "no PodDisruptionBudget selects its pods, so a node drain may evict every replica at once",
				"add a policy/v1 PodDisruptionBudget in the same namespace with maxUnavailable 1 and a selector matching the pod template labels")})
		}
		n, nKnown := replicas(w)
		if get(w.Properties, "spec.replicas").IsNull() {
			// Under an autoscaler (charts leave spec.replicas unset then) the fewest pods it runs is
			// the HPA's minimum, not the Kubernetes default of 1.
			if m, ok := hpaMinimum(w, rs); ok {
				n, nKnown = m, true
			}
		}
		for _, p := range pdbs {
			if nKnown && pdbAllowsNoEviction(p, n) {
				out = append(out, Finding{p, violation(p, fmt.Sprintf("allows no eviction of %s (%d replica(s)): node drains and cluster upgrades block on it", subject(w), n),
					"use maxUnavailable 1, or minAvailable below the replica count")})
			}
		}
	}
	return out
}

// hpaMinimum is the minReplicas of the HorizontalPodAutoscaler that scales a workload (1 where
// unset, the Kubernetes default); ok is false when none is known to.
func hpaMinimum(w Resource, rs []Resource) (n int, ok bool) {
	name, ns := k8sName(w), namespaceOf(w)
	if name == "" || ns == "?" {
		return 0, false
	}
	for _, h := range rs {
		if !isK8s(h.Type, "autoscaling", "HorizontalPodAutoscaler") || namespaceOf(h) != ns ||
			str(h.Properties, "spec.scaleTargetRef.kind") != kind(w.Type) || str(h.Properties, "spec.scaleTargetRef.name") != name {
			continue
		}
		m, set, known := number(h.Properties, "spec.minReplicas")
		switch {
		case !known:
			return 0, false
		case !set:
			return 1, true
		}
		return int(m), true
	}
	return 0, false
}

func checkDatabaseHA(r Resource, c Config) []string {
	p := r.Properties
	switch {
	case r.Type == typeRDSInstance:
		if str(p, "replicateSourceDb") != "" || unknown(get(p, "replicateSourceDb")) {
			return nil // a read replica; its source carries the HA requirement
		}
		if b := boolean(p, "multiAz"); b == isFalse || b == unset {
			return []string{violation(r, "is a single-AZ database instance: an AZ outage or instance failure stops it",
				"set multiAz: true (a synchronous standby in another zone with automatic failover)")}
		}
	case isK8s(r.Type, cnpgGroup, "Cluster"):
		n, ok, known := number(p, "spec.instances")
		if !ok && known {
			n = 1
		}
		if min := c.Int(paramMinInstances); known && int(n) < min {
			return []string{violation(r, fmt.Sprintf("runs %d PostgreSQL instance(s), fewer than %d", int(n), min),
				fmt.Sprintf("set spec.instances to %d or more: a primary and streaming replicas the operator fails over to", min))}
		}
	case r.Type == typeElastiCacheGroup:
		var out []string
		if b := boolean(p, "automaticFailoverEnabled"); b == isFalse || b == unset {
			out = append(out, violation(r, "has automatic failover off", "set automaticFailoverEnabled: true"))
		}
		if b := boolean(p, "multiAzEnabled"); b == isFalse || b == unset {
			out = append(out, violation(r, "keeps its nodes in one zone", "set multiAzEnabled: true"))
		}
		clusters, ok1, k1 := number(p, "numCacheClusters")
		perGroup, ok2, k2 := number(p, "replicasPerNodeGroup")
		if k1 && k2 && !(ok1 && clusters >= 2) && !(ok2 && perGroup >= 1) {
			out = append(out, violation(r, "has no replica node to fail over to", "set numCacheClusters: 2 or more (or replicasPerNodeGroup: 1 or more)"))
		}
		return out
	case r.Type == typeElastiCacheNode:
		if str(p, "replicationGroupId") == "" && !unknown(get(p, "replicationGroupId")) {
			return []string{violation(r, "is a single cache node with no replica", "use an aws.elasticache.ReplicationGroup with a replica, automatic failover and Multi-AZ")}
		}
	}
	return nil
}

// retentionDays parses a CloudNativePG retention policy ("30d", "4w", "1m") into days.
func retentionDays(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return 0, false
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil {
		return 0, false
	}
	switch s[len(s)-1] {
	case 'd':
		return n, true
	case 'w':
		return 7 * n, true
	case 'm':
		return 30 * n, true
	}
	return 0, false
}

func checkBackups(r Resource, c Config) []string {
	p := r.Properties
	minDays := c.Int(paramMinBackupDays)
	var out []string
	switch {
	case r.Type == typeRDSInstance || r.Type == typeRDSCluster:
		if r.Type == typeRDSInstance && (str(p, "replicateSourceDb") != "" || str(p, "dbClusterIdentifier") != "") {
			return nil // replicas and Aurora members take the backups of their source or cluster
		}
		days, ok, known := number(p, "backupRetentionPeriod")
		if known && (!ok || int(days) < minDays) {
			out = append(out, violation(r, fmt.Sprintf("keeps automated backups %d day(s), fewer than %d", int(days), minDays),
				fmt.Sprintf("set backupRetentionPeriod to %d or more", minDays)))
		}
		if boolean(p, "skipFinalSnapshot") == isTrue {
			out = append(out, violation(r, "is deleted without a final snapshot", "set skipFinalSnapshot: false and a finalSnapshotIdentifier"))
		}
	case isK8s(r.Type, cnpgGroup, "Cluster"):
		backup := get(p, "spec.backup")
		if backup.IsComputed() {
			return nil
		}
		if !backup.IsMap() || (!has(p, "spec.backup.barmanObjectStore") && !has(p, "spec.backup.volumeSnapshot")) {
			return []string{violation(r, "has no backup configured", "set spec.backup.barmanObjectStore (object storage, WAL archiving) and a spec.backup.retentionPolicy, plus a ScheduledBackup")}
		}
		rp := str(p, "spec.backup.retentionPolicy")
		if days, ok := retentionDays(rp); !ok || days < minDays {
			out = append(out, violation(r, fmt.Sprintf("keeps backups for %q, less than %d days", rp, minDays),
				fmt.Sprintf("set spec.backup.retentionPolicy to %dd or more", minDays)))
		}
	case r.Type == typeElastiCacheGroup:
		minSnap := c.Int(paramMinSnapshotDays)
		days, ok, known := number(p, "snapshotRetentionLimit")
		if known && (!ok || int(days) < minSnap) {
			out = append(out, violation(r, fmt.Sprintf("keeps snapshots %d day(s), fewer than %d", int(days), minSnap),
				fmt.Sprintf("set snapshotRetentionLimit to %d or more", minSnap)))
		}
	}
	return out
}

// kafkaSetting reads one Kafka setting from a config map (keys contain dots, so they are not
// paths).
func kafkaSetting(m property.Map, mapPath, key string) (n int, set, known bool) {
	cfg := get(m, mapPath)
	if cfg.IsComputed() {
		return 0, false, false
	}
	if !cfg.IsMap() {
		return 0, false, true
	}
	v := cfg.AsMap().Get(key)
	switch {
	case v.IsComputed():
		return 0, false, false
	case v.IsNumber():
		return int(v.AsNumber()), true, true
	case v.IsString():
		i, err := strconv.Atoi(strings.TrimSpace(v.AsString()))
		return i, err == nil, true
	}
	return 0, false, true
}

// serverProperties parses a Kafka server.properties text.
func serverProperties(text string) map[string]int {
	out := map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			out[strings.TrimSpace(k)] = n
		}
	}
	return out
}

func checkKafka(r Resource, c Config) []string {
	p := r.Properties
	rf, isr, brokers := c.Int(paramMinReplication), c.Int(paramMinInsync), c.Int(paramMinBrokers)
	var out []string
	low := func(what string, got, want int, fix string) {
		out = append(out, violation(r, fmt.Sprintf("%s is %d, below %d", what, got, want), fix))
	}
	switch {
	case r.Type == typeKafkaTopic:
		if n, ok, known := number(p, "replicationFactor"); known && ok && int(n) < rf {
			low("replicationFactor", int(n), rf, fmt.Sprintf("set replicationFactor: %d", rf))
		}
		if n, set, known := kafkaSetting(p, "config", "min.insync.replicas"); known && set && n < isr {
			low("min.insync.replicas", n, isr, fmt.Sprintf("set config min.insync.replicas: %q", fmt.Sprint(isr)))
		}
	case isK8s(r.Type, strimziGroup, "KafkaTopic"):
		if n, ok, known := number(p, "spec.replicas"); known && ok && int(n) < rf {
			low("spec.replicas", int(n), rf, fmt.Sprintf("set spec.replicas: %d", rf))
		}
		if n, set, known := kafkaSetting(p, "spec.config", "min.insync.replicas"); known && set && n < isr {
			low("min.insync.replicas", n, isr, fmt.Sprintf("set spec.config min.insync.replicas: %d", isr))
		}
	case isK8s(r.Type, strimziGroup, "Kafka"):
		// Kafka's own defaults where a key is unset: default.replication.factor 1, min.insync.replicas 1.
		for _, s := range []struct {
			key  string
			want int
			def  int
		}{
			{"default.replication.factor", rf, 1},
			{"min.insync.replicas", isr, 1},
			{"offsets.topic.replication.factor", rf, 3},
			{"transaction.state.log.replication.factor", rf, 3},
			{"transaction.state.log.min.isr", isr, 2},
		} {
			n, set, known := kafkaSetting(p, "spec.kafka.config", s.key)
			if !known {
				continue
			}
			if !set {
				n = s.def
			}
			if n < s.want {
				low(s.key, n, s.want, fmt.Sprintf("set spec.kafka.config %s: %d", s.key, s.want))
			}
		}
		if n, ok, known := number(p, "spec.kafka.replicas"); known && ok && int(n) < brokers {
			low("spec.kafka.replicas", int(n), brokers, fmt.Sprintf("run %d brokers or more", brokers))
		}
	case isK8s(r.Type, strimziGroup, "KafkaNodePool"):
		roles, known := stringList(p, "spec.roles")
		if !known || !contains(roles, "broker") {
			return nil
		}
		if n, ok, known := number(p, "spec.replicas"); known && ok && int(n) < brokers {
			low("the broker pool's spec.replicas", int(n), brokers, fmt.Sprintf("set spec.replicas: %d (one broker per zone)", brokers))
		}
	case r.Type == typeMSKCluster:
		if n, ok, known := number(p, "numberOfBrokerNodes"); known && ok && int(n) < brokers {
			low("numberOfBrokerNodes", int(n), brokers, fmt.Sprintf("set numberOfBrokerNodes to %d or more (a multiple of the client subnets)", brokers))
		}
	case r.Type == typeMSKConfiguration:
		// MSK's defaults (3 and 2 on clusters of 3 or more brokers) apply where unset.
		props := serverProperties(str(p, "serverProperties"))
		if n, ok := props["default.replication.factor"]; ok && n < rf {
			low("default.replication.factor", n, rf, fmt.Sprintf("set default.replication.factor=%d in serverProperties", rf))
		}
		if n, ok := props["min.insync.replicas"]; ok && n < isr {
			low("min.insync.replicas", n, isr, fmt.Sprintf("set min.insync.replicas=%d in serverProperties", isr))
		}
	}
	return out
}

func checkNodeGroupZones(r Resource, c Config) []string {
	p := r.Properties
	min := c.Int(paramMinZones)
	switch r.Type {
	case typeEKSNodeGroup, typeAutoscalingGroup:
		key := "subnetIds"
		if r.Type == typeAutoscalingGroup {
			key = "vpcZoneIdentifiers"
			if !has(p, key) {
				key = "availabilityZones"
			}
		}
		ids := list(p, key)
		if unknown(get(p, key)) {
			return nil
		}
		if len(ids) < min {
			return []string{violation(r, fmt.Sprintf("spans %d subnet(s), fewer than %d zones", len(ids), min),
				fmt.Sprintf("give %s one private subnet in each of %d or more availability zones", key, min))}
		}
	case typeMagnumCluster, typeMagnumTemplate, typeMagnumNodeGroup:
		if min < 2 {
			return nil
		}
		if az := str(p, "labels.availability_zone"); az != "" {
			return []string{violation(r, fmt.Sprintf("pins every node to availability zone %q", az),
				fmt.Sprintf("list %d or more zones in groundwork:openstack.availabilityZones (drop the availability_zone label) so Nova spreads the nodes", min))}
		}
	}
	return nil
}

func checkDeletionProtection(r Resource, c Config) []string {
	p := r.Properties
	switch r.Type {
	case typeRDSInstance, typeRDSCluster:
		if r.Type == typeRDSInstance && str(p, "dbClusterIdentifier") != "" {
			return nil // an Aurora member; the cluster carries the flag
		}
		if b := boolean(p, "deletionProtection"); b == isFalse || b == unset {
			return []string{violation(r, "can be deleted by any API call or `pulumi destroy`", "set deletionProtection: true")}
		}
	case typeDynamoDBTable:
		if b := boolean(p, "deletionProtectionEnabled"); b == isFalse || b == unset {
			return []string{violation(r, "can be deleted by any API call", "set deletionProtectionEnabled: true")}
		}
	default:
		if contains(c.Strings(paramProtectedTypes), r.Type) && !r.Protect {
			return []string{violation(r, "holds data but Pulumi may delete or replace it", "create it with the pulumi.Protect(true) resource option")}
		}
	}
	return nil
}
