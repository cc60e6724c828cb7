package rules_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/policy/rules"
)

// policyCase is one table row: resources given to one policy, with optional config
// properties, and the violations wanted (a substring of each message, in order). No want means
// the resources comply.
type policyCase struct {
	name   string
	policy string
	give   []rules.Resource
	config map[string]any
	want   []string
}

func one(r rules.Resource) []rules.Resource { return []rules.Resource{r} }

// withCompanions is a Deployment with its Service, PDB, HPA and default deny.
func withCompanions(d obj) []rules.Resource {
	md := d["metadata"].(obj)
	name, ns := md["name"].(string), md["namespace"].(string)
	return append([]rules.Resource{res(tDeployment, name, d)}, companions(name, ns)...)
}

var (
	orders = deployment("orders", "shop")
	db     = obj{
		"engine": "postgres", "instanceClass": "db.m6g.large", "multiAz": true, "storageEncrypted": true,
		"backupRetentionPeriod": 14, "deletionProtection": true, "skipFinalSnapshot": false,
		"password": secret("s3cr3t-generated"),
		"tags":     obj{"project": "groundwork", "stack": "prod", "owner": "platform-team", "component": "orders-db"},
	}
	cnpg = obj{"metadata": meta("orders-db", "shop"), "spec": obj{
		"instances": 3, "imageName": "ghcr.io/cloudnative-pg/postgresql:17.5",
		"resources": obj{"requests": obj{"cpu": "500m", "memory": "1Gi"}, "limits": obj{"cpu": "1", "memory": "1Gi"}},
		"backup":    obj{"retentionPolicy": "30d", "barmanObjectStore": obj{"destinationPath": "s3://backups/orders"}},
	}}
	redis = obj{
		"automaticFailoverEnabled": true, "multiAzEnabled": true, "numCacheClusters": 2,
		"atRestEncryptionEnabled": true, "transitEncryptionEnabled": true, "snapshotRetentionLimit": 7,
		"authToken": secret("token"),
	}
	msk = obj{
		"clusterName": "groundwork-prod", "numberOfBrokerNodes": 3,
		"encryptionInfo": obj{"encryptionInTransit": obj{"clientBroker": "TLS", "inCluster": true}},
	}
	eks = obj{
		"name": "groundwork-prod",
		"vpcConfig": obj{
			"endpointPrivateAccess": true, "endpointPublicAccess": true,
			"publicAccessCidrs": arr{"203.0.113.0/24"}, "subnetIds": arr{"subnet-a", "subnet-b", "subnet-c"},
		},
	}
	nodeGroup = obj{
		"subnetIds":     arr{"subnet-a", "subnet-b", "subnet-c"},
		"scalingConfig": obj{"minSize": 3, "desiredSize": 3, "maxSize": 12},
	}
	strimzi = obj{"metadata": meta("events", "kafka"), "spec": obj{"kafka": obj{"config": obj{
		"default.replication.factor": 3, "min.insync.replicas": 2, "offsets.topic.replication.factor": 3,
		"transaction.state.log.replication.factor": 3, "transaction.state.log.min.isr": 2,
	}}}}
	magnumLabels = obj{
		"auto_scaling_enabled": "true", "max_node_count": "12", "master_lb_floating_ip_enabled": "true",
		"master_lb_allowed_cidrs": "203.0.113.0/24",
	}
	worldSG = obj{"ingress": arr{obj{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": arr{"0.0.0.0/0"}}}}
)

// istioGateway is the Deployment Istio's gateway chart renders: its istio-proxy container's
// image "auto" is filled in by the sidecar injector.
var istioGateway = func() obj {
	d := deployment("istio-gateway", "istio-ingress")
	d = with(d, "spec.template.metadata.labels", obj{"app": "istio-gateway", "sidecar.istio.io/inject": "true"})
	d = with(d, "spec.template.metadata.annotations", obj{"inject.istio.io/templates": "gateway"})
	d = with(d, "spec.template.spec.containers.0.name", "istio-proxy")
	return with(d, "spec.template.spec.containers.0.image", "auto")
}()

const (
	tRDS        = "aws:rds/instance:Instance"
	tCNPG       = "kubernetes:postgresql.cnpg.io/v1:Cluster"
	tRedis      = "aws:elasticache/replicationGroup:ReplicationGroup"
	tMSK        = "aws:msk/cluster:Cluster"
	tEKS        = "aws:eks/cluster:Cluster"
	tNodeGroup  = "aws:eks/nodeGroup:NodeGroup"
	tMagnum     = "openstack:containerinfra/cluster:Cluster"
	tMagnumTmpl = "openstack:containerinfra/clusterTemplate:ClusterTemplate"
	tSG         = "aws:ec2/securityGroup:SecurityGroup"
	tOSRule     = "openstack:networking/secGroupRule:SecGroupRule"
	tStrimzi    = "kubernetes:kafka.strimzi.io/v1:Kafka"
	tTopic      = "kubernetes:kafka.strimzi.io/v1:KafkaTopic"
	tPeerAuth   = "kubernetes:security.istio.io/v1:PeerAuthentication"
	tIstiod     = "kubernetes:helm.sh/v4:Chart"
)

var cases = []policyCase{
	// Reliability.
	{name: "three replicas", policy: "workload-replicas", give: one(res(tDeployment, "orders", orders))},
	{name: "one replica", policy: "workload-replicas", give: one(res(tDeployment, "orders", with(orders, "spec.replicas", 1))),
		want: []string{"runs 1 replica(s), fewer than 2. Fix: set spec.replicas to 2 or more"}},
	{name: "replicas unset means one", policy: "workload-replicas", give: one(res(tStatefulSet, "ledger", with(orders, "spec.replicas", nil))),
		want: []string{`StatefulSet "shop/orders"`}},
	{name: "replica floor from config", policy: "workload-replicas", config: map[string]any{"minReplicas": 4.0},
		give: one(res(tDeployment, "orders", orders)), want: []string{"fewer than 4"}},
	{name: "exempt by name", policy: "workload-replicas", config: map[string]any{"exemptNames": []any{"shop/ord*"}},
		give: one(res(tDeployment, "orders", with(orders, "spec.replicas", 1)))},
	{name: "exempt by namespace", policy: "workload-replicas", config: map[string]any{"exemptNamespaces": []any{"shop"}},
		give: one(res(tDeployment, "orders", with(orders, "spec.replicas", 1)))},
	{name: "chart objects exempt when asked", policy: "workload-replicas", config: map[string]any{"exemptChartObjects": true},
		give: one(chartObject(res(tDeployment, "orders", with(orders, "spec.replicas", 1))))},
	{name: "chart objects checked by default", policy: "workload-replicas",
		give: one(chartObject(res(tDeployment, "orders", with(orders, "spec.replicas", 1)))), want: []string{"runs 1 replica(s)"}},
	{name: "own objects checked with chart objects exempt", policy: "workload-replicas", config: map[string]any{"exemptChartObjects": true},
		give: one(res(tDeployment, "orders", with(orders, "spec.replicas", 1))), want: []string{"runs 1 replica(s)"}},
	{name: "replicas unknown in preview", policy: "workload-replicas", give: one(res(tDeployment, "orders", with(orders, "spec.replicas", computed())))},

	{name: "both probes", policy: "workload-probes", give: one(res(tDeployment, "orders", orders))},
	{name: "no liveness probe", policy: "workload-probes", give: one(res(tDeployment, "orders", with(orders, "spec.template.spec.containers.0.livenessProbe", nil))),
		want: []string{`Deployment "shop/orders" (resource "orders"): container "app" has no livenessProbe. Fix: add livenessProbe`}},
	{name: "no probes at all", policy: "workload-probes",
		give: one(res(tDeployment, "orders", with(with(orders, "spec.template.spec.containers.0.livenessProbe", nil), "spec.template.spec.containers.0.readinessProbe", nil))),
		want: []string{"has no readinessProbe and no livenessProbe"}},

	{name: "spread over zones", policy: "workload-zone-spread", give: one(res(tDeployment, "orders", orders))},
	{name: "anti-affinity on zones", policy: "workload-zone-spread", give: one(res(tDeployment, "orders", with(with(orders, "spec.template.spec.topologySpreadConstraints", nil),
		"spec.template.spec.affinity", obj{"podAntiAffinity": obj{"preferredDuringSchedulingIgnoredDuringExecution": arr{obj{"weight": 100, "podAffinityTerm": obj{"topologyKey": "topology.kubernetes.io/zone"}}}}})))},
	{name: "spread over hosts only", policy: "workload-zone-spread",
		give: one(res(tDeployment, "orders", with(orders, "spec.template.spec.topologySpreadConstraints.0.topologyKey", "kubernetes.io/hostname"))),
		want: []string{`may all land in one zone`, `topologyKey "topology.kubernetes.io/zone"`}[:1]},

	{name: "statefulset with a PDB", policy: "workload-disruption-budget", give: []rules.Resource{
		res(tStatefulSet, "ledger", deployment("ledger", "shop")), res(tPDB, "ledger", pdb("ledger", "shop", obj{"app": "ledger"}))}},
	{name: "statefulset without a PDB", policy: "workload-disruption-budget", give: []rules.Resource{
		res(tStatefulSet, "ledger", deployment("ledger", "shop")), res(tPDB, "other", pdb("other", "shop", obj{"app": "other"}))},
		want: []string{`StatefulSet "shop/ledger" (resource "ledger"): no PodDisruptionBudget selects its pods`}},
	{name: "PDB in another namespace does not count", policy: "workload-disruption-budget", give: []rules.Resource{
		res(tStatefulSet, "ledger", deployment("ledger", "shop")), res(tPDB, "ledger", pdb("ledger", "billing", obj{"app": "ledger"}))},
		want: []string{"no PodDisruptionBudget"}},
	{name: "PDB that blocks drains", policy: "workload-disruption-budget", give: []rules.Resource{
		res(tDeployment, "orders", orders), res(tPDB, "orders", with(with(pdb("orders", "shop", obj{"app": "orders"}), "spec.maxUnavailable", nil), "spec.minAvailable", 3))},
		want: []string{`PodDisruptionBudget "shop/orders" (resource "orders"): allows no eviction`}},
	{name: "PDB of an autoscaled Deployment counts the HPA's minimum", policy: "workload-disruption-budget", give: []rules.Resource{
		res(tDeployment, "gateway", with(deployment("gateway", "edge"), "spec.replicas", nil)), res(tHPA, "gateway", hpa("gateway", "edge", "gateway")),
		res(tPDB, "gateway", with(with(pdb("gateway", "edge", obj{"app": "gateway"}), "spec.maxUnavailable", nil), "spec.minAvailable", 1))}},
	{name: "PDB that blocks drains at the HPA's minimum", policy: "workload-disruption-budget", give: []rules.Resource{
		res(tDeployment, "gateway", with(deployment("gateway", "edge"), "spec.replicas", nil)), res(tHPA, "gateway", with(hpa("gateway", "edge", "gateway"), "spec.minReplicas", 2)),
		res(tPDB, "gateway", with(with(pdb("gateway", "edge", obj{"app": "gateway"}), "spec.maxUnavailable", nil), "spec.minAvailable", 2))},
		want: []string{`allows no eviction of Deployment "edge/gateway" (resource "gateway") (2 replica(s))`}},
	{name: "PDB of a Deployment without replicas or HPA", policy: "workload-disruption-budget", give: []rules.Resource{
		res(tDeployment, "gateway", with(deployment("gateway", "edge"), "spec.replicas", nil)), res(tHPA, "other", hpa("other", "edge", "other")),
		res(tPDB, "gateway", with(with(pdb("gateway", "edge", obj{"app": "gateway"}), "spec.maxUnavailable", nil), "spec.minAvailable", 1))},
		want: []string{`(1 replica(s))`}},

	{name: "multi-AZ RDS", policy: "database-high-availability", give: one(res(tRDS, "orders-db", db))},
	{name: "single-AZ RDS", policy: "database-high-availability", give: one(res(tRDS, "orders-db", with(db, "multiAz", false))),
		want: []string{`aws:rds/instance:Instance "orders-db": is a single-AZ database instance`}},
	{name: "read replica needs no Multi-AZ", policy: "database-high-availability", give: one(res(tRDS, "orders-ro", with(with(db, "multiAz", nil), "replicateSourceDb", "orders-db")))},
	{name: "three CNPG instances", policy: "database-high-availability", give: one(res(tCNPG, "orders-db", cnpg))},
	{name: "one CNPG instance", policy: "database-high-availability", give: one(res(tCNPG, "orders-db", with(cnpg, "spec.instances", 1))),
		want: []string{`Cluster.postgresql.cnpg.io "shop/orders-db" (resource "orders-db"): runs 1 PostgreSQL instance(s), fewer than 3. Fix: set spec.instances to 3`}},
	{name: "replicated redis", policy: "database-high-availability", give: one(res(tRedis, "sessions", redis))},
	{name: "redis without failover", policy: "database-high-availability",
		give: one(res(tRedis, "sessions", with(with(with(redis, "automaticFailoverEnabled", false), "multiAzEnabled", nil), "numCacheClusters", 1))),
		want: []string{"automatic failover off", "in one zone", "no replica node"}},

	{name: "RDS with backups", policy: "database-backups", give: one(res(tRDS, "orders-db", db))},
	{name: "RDS with a day of backups and no final snapshot", policy: "database-backups",
		give: one(res(tRDS, "orders-db", with(with(db, "backupRetentionPeriod", 1), "skipFinalSnapshot", true))),
		want: []string{"keeps automated backups 1 day(s), fewer than 7. Fix: set backupRetentionPeriod to 7", "without a final snapshot"}},
	{name: "CNPG with backups", policy: "database-backups", give: one(res(tCNPG, "orders-db", cnpg))},
	{name: "CNPG without backups", policy: "database-backups", give: one(res(tCNPG, "orders-db", with(cnpg, "spec.backup", nil))),
		want: []string{"has no backup configured. Fix: set spec.backup.barmanObjectStore"}},
	{name: "CNPG keeping backups 2 days", policy: "database-backups", give: one(res(tCNPG, "orders-db", with(cnpg, "spec.backup.retentionPolicy", "2d"))),
		want: []string{`keeps backups for "2d"`}},
	{name: "redis without snapshots", policy: "database-backups", give: one(res(tRedis, "sessions", with(redis, "snapshotRetentionLimit", 0))),
		want: []string{"keeps snapshots 0 day(s)"}},

	{name: "Strimzi cluster replicated", policy: "kafka-replication", give: one(res(tStrimzi, "events", strimzi))},
	{name: "Strimzi cluster on Kafka defaults", policy: "kafka-replication", give: one(res(tStrimzi, "events", with(strimzi, "spec.kafka.config", obj{}))),
		want: []string{"default.replication.factor is 1, below 3", "min.insync.replicas is 1, below 2"}},
	{name: "topic with two replicas", policy: "kafka-replication", give: one(res(tTopic, "orders-placed", obj{"metadata": meta("orders-placed", "kafka"),
		"spec": obj{"partitions": 6, "replicas": 2, "config": obj{"min.insync.replicas": "1"}}})),
		want: []string{"spec.replicas is 2, below 3", "min.insync.replicas is 1, below 2"}},
	{name: "Kafka provider topic", policy: "kafka-replication", give: one(res("kafka:index/topic:Topic", "orders-placed", obj{
		"name": "orders.placed", "partitions": 6, "replicationFactor": 1})),
		want: []string{`kafka:index/topic:Topic "orders-placed": replicationFactor is 1, below 3. Fix: set replicationFactor: 3`}},
	{name: "MSK with two brokers", policy: "kafka-replication", give: one(res(tMSK, "events", with(msk, "numberOfBrokerNodes", 2))),
		want: []string{"numberOfBrokerNodes is 2"}},
	{name: "MSK configuration lowering min.insync.replicas", policy: "kafka-replication", give: one(res("aws:msk/configuration:Configuration", "events",
		obj{"serverProperties": "auto.create.topics.enable=false\nmin.insync.replicas=1\n"})), want: []string{"min.insync.replicas is 1, below 2"}},
	{name: "broker pool of one", policy: "kafka-replication", give: one(res("kubernetes:kafka.strimzi.io/v1:KafkaNodePool", "brokers", obj{
		"metadata": meta("brokers", "kafka"), "spec": obj{"replicas": 1, "roles": arr{"broker"}}})), want: []string{"broker pool's spec.replicas is 1"}},

	{name: "node group over three subnets", policy: "node-groups-span-zones", give: one(res(tNodeGroup, "general", nodeGroup))},
	{name: "node group in one subnet", policy: "node-groups-span-zones", give: one(res(tNodeGroup, "general", with(nodeGroup, "subnetIds", arr{"subnet-a"}))),
		want: []string{`aws:eks/nodeGroup:NodeGroup "general": spans 1 subnet(s), fewer than 2 zones`}},
	{name: "Magnum pinned to one zone", policy: "node-groups-span-zones", give: one(res(tMagnum, "dev", obj{"labels": obj{"availability_zone": "nova"}})),
		want: []string{`pins every node to availability zone "nova"`}},
	{name: "one zone allowed by config", policy: "node-groups-span-zones", config: map[string]any{"minZones": 1.0},
		give: one(res(tMagnum, "dev", obj{"labels": obj{"availability_zone": "nova"}}))},

	{name: "protected RDS", policy: "deletion-protection", give: one(res(tRDS, "orders-db", db))},
	{name: "RDS without deletion protection", policy: "deletion-protection", give: one(res(tRDS, "orders-db", with(db, "deletionProtection", nil))),
		want: []string{"Fix: set deletionProtection: true"}},
	{name: "MSK without protect", policy: "deletion-protection", give: one(res(tMSK, "events", msk)),
		want: []string{`aws:msk/cluster:Cluster "events": holds data but Pulumi may delete or replace it. Fix: create it with the pulumi.Protect(true)`}},
	{name: "MSK with protect", policy: "deletion-protection", give: func() []rules.Resource {
		r := res(tMSK, "events", msk)
		r.Protect = true
		return one(r)
	}()},

	// Scalability.
	{name: "requests and limits", policy: "workload-resources", give: one(res(tDeployment, "orders", orders))},
	{name: "no limits", policy: "workload-resources", give: one(res(tDeployment, "orders", with(orders, "spec.template.spec.containers.0.resources.limits", nil))),
		want: []string{`container "app" has no limits.memory, limits.cpu. Fix: set limits.memory, limits.cpu`}},
	{name: "CPU limit optional by config", policy: "workload-resources", config: map[string]any{"requireCpuLimit": false},
		give: one(res(tDeployment, "orders", with(orders, "spec.template.spec.containers.0.resources.limits.cpu", nil)))},
	{name: "init container without resources", policy: "workload-resources",
		give: one(res(tDeployment, "orders", with(orders, "spec.template.spec.initContainers", arr{obj{"name": "migrate", "image": "x/migrate:1.0.0"}}))),
		want: []string{`init container "migrate" has no requests.cpu, requests.memory, limits.memory, limits.cpu`}},
	{name: "CNPG without resources", policy: "workload-resources", give: one(res(tCNPG, "orders-db", with(cnpg, "spec.resources", nil))),
		want: []string{"its pods have no requests.cpu"}},

	{name: "HPA 3 to 12", policy: "autoscaler-range", give: one(res(tHPA, "orders", hpa("orders", "shop", "orders")))},
	{name: "HPA that cannot scale", policy: "autoscaler-range", give: one(res(tHPA, "orders", with(hpa("orders", "shop", "orders"), "spec.maxReplicas", 3))),
		want: []string{"cannot scale: maxReplicas 3 is not above minReplicas 3"}},
	{name: "HPA down to one", policy: "autoscaler-range", give: one(res(tHPA, "orders", with(hpa("orders", "shop", "orders"), "spec.minReplicas", nil))),
		want: []string{"may scale down to 1 replica(s), fewer than 2"}},

	{name: "node group with headroom", policy: "node-group-scaling", give: one(res(tNodeGroup, "general", nodeGroup))},
	{name: "node group at its maximum", policy: "node-group-scaling", give: one(res(tNodeGroup, "general", with(nodeGroup, "scalingConfig.maxSize", 3))),
		want: []string{"cannot grow: maximum 3 is not above desired 3. Fix: raise scalingConfig.maxSize above 3"}},
	{name: "Magnum autoscaling", policy: "node-group-scaling", give: one(res(tMagnum, "prod", obj{"nodeCount": 3, "labels": magnumLabels}))},
	{name: "Magnum cluster without labels (the template has them)", policy: "node-group-scaling", give: one(res(tMagnum, "prod", obj{"nodeCount": 3}))},
	{name: "Magnum template autoscaling", policy: "node-group-scaling", give: one(res(tMagnumTmpl, "prod", obj{"labels": obj{"auto_scaling_enabled": "true", "min_node_count": "3", "max_node_count": "12"}}))},
	{name: "Magnum template cannot grow", policy: "node-group-scaling", give: one(res(tMagnumTmpl, "prod", obj{"labels": obj{"auto_scaling_enabled": "true", "min_node_count": "3", "max_node_count": "3"}})),
		want: []string{"cannot grow"}},
	{name: "Magnum autoscaler off", policy: "node-group-scaling", give: one(res(tMagnum, "prod", obj{"nodeCount": 3, "labels": with(magnumLabels, "auto_scaling_enabled", "false")})),
		want: []string{"has the cluster autoscaler off"}},

	// Maintainability.
	{name: "versioned image", policy: "image-pinned", give: one(res(tDeployment, "orders", orders))},
	{name: "digest", policy: "image-pinned", give: one(res(tDeployment, "orders", with(orders, "spec.template.spec.containers.0.image", "nginx@sha256:0123456789abcdef")))},
	{name: "latest", policy: "image-pinned", give: one(res(tDeployment, "orders", with(orders, "spec.template.spec.containers.0.image", "nginx:latest"))),
		want: []string{`container "app" runs "nginx:latest": the tag "latest" moves. Fix: pin an exact version tag`}},
	{name: "untagged behind a registry port", policy: "image-pinned", give: one(res(tDeployment, "orders", with(orders, "spec.template.spec.containers.0.image", "localhost:5001/groundwork/orders"))),
		want: []string{"without a tag"}},
	{name: "Istio gateway's injected proxy", policy: "image-pinned", give: one(res(tDeployment, "istio-gateway", istioGateway))},
	{name: "injected proxy by the gateway template alone", policy: "image-pinned",
		give: one(res(tDeployment, "istio-gateway", with(istioGateway, "spec.template.metadata.labels", obj{"app": "istio-gateway"})))},
	{name: "image auto without injection", policy: "image-pinned",
		give: one(res(tDeployment, "istio-gateway", with(with(istioGateway, "spec.template.metadata.labels", obj{"app": "istio-gateway"}), "spec.template.metadata.annotations", nil))),
		want: []string{`container "istio-proxy" runs "auto" without a tag`}},
	{name: "image auto with injection turned off", policy: "image-pinned",
		give: one(res(tDeployment, "istio-gateway", with(istioGateway, "spec.template.metadata.labels", obj{"app": "istio-gateway", "sidecar.istio.io/inject": "false"}))),
		want: []string{`container "istio-proxy" runs "auto"`}},
	{name: "image auto in a container injection does not fill", policy: "image-pinned",
		give: one(res(tDeployment, "istio-gateway", with(istioGateway, "spec.template.spec.containers.0.name", "app"))),
		want: []string{`container "app" runs "auto"`}},
	{name: "image known only after the build", policy: "image-pinned", give: one(res(tDeployment, "orders", with(orders, "spec.template.spec.containers.0.image", computed())))},

	{name: "pinned chart", policy: "helm-chart-pinned", give: one(res(tIstiod, "istiod", obj{"chart": "istiod", "version": "1.30.0"}))},
	{name: "unversioned chart", policy: "helm-chart-pinned", give: one(res(tIstiod, "istiod", obj{"chart": "istiod"})),
		want: []string{`kubernetes:helm.sh/v4:Chart "istiod": installs chart "istiod" at whatever version`}},
	{name: "chart range", policy: "helm-chart-pinned", give: one(res("kubernetes:helm.sh/v3:Release", "kong", obj{"chart": "kong", "version": "^3.4"})),
		want: []string{`at the range "^3.4"`}},
	{name: "local chart folder", policy: "helm-chart-pinned", give: one(res(tIstiod, "istiod", obj{"chart": "./charts/istiod"}))},

	{name: "tagged RDS", policy: "required-tags", give: one(res(tRDS, "orders-db", db))},
	{name: "RDS without owner", policy: "required-tags", give: one(res(tRDS, "orders-db", with(db, "tags.owner", nil))),
		want: []string{`aws:rds/instance:Instance "orders-db": has no tag owner`}},
	{name: "VPC without tags", policy: "required-tags", give: one(res("aws:ec2/vpc:Vpc", "vpc", obj{"cidrBlock": "10.0.0.0/16"})),
		want: []string{"has no tag project, stack, owner, component"}},
	{name: "OpenStack network tags", policy: "required-tags", give: one(res("openstack:networking/network:Network", "internal", obj{
		"tags": arr{"component=infra", "owner=platform-team", "project=groundwork", "stack=prod"}}))},
	{name: "OpenStack network without stack tag", policy: "required-tags", give: one(res("openstack:networking/network:Network", "internal", obj{
		"tags": arr{"component=infra", "owner=platform-team", "project=groundwork"}})), want: []string{"has no tag stack"}},
	{name: "Kubernetes object without labels", policy: "required-tags", give: one(res(tService, "orders", with(service("orders", "shop", obj{"app": "orders"}), "metadata.labels", nil))),
		want: []string{"has no label app.kubernetes.io/part-of"}},
	{name: "tags known after apply", policy: "required-tags", give: one(res(tRDS, "orders-db", with(db, "tags", computed())))},

	// Security.
	{name: "hardened container", policy: "container-security-context", give: one(res(tDeployment, "orders", orders))},
	{name: "privileged root container", policy: "container-security-context",
		give: one(res(tDeployment, "orders", with(with(with(orders, "spec.template.spec.securityContext", nil), "spec.template.spec.containers.0.securityContext.privileged", true),
			"spec.template.spec.containers.0.securityContext.readOnlyRootFilesystem", nil))),
		want: []string{`container "app" may run as root, is privileged, has a writable root filesystem. Fix: set the container's securityContext runAsNonRoot: true`}},
	{name: "root by UID", policy: "container-security-context", give: one(res(tDeployment, "orders", with(orders, "spec.template.spec.containers.0.securityContext.runAsUser", 0))),
		want: []string{"runs as root (runAsUser 0)"}},
	{name: "escalation allowed by default", policy: "container-security-context",
		give: one(res(tDeployment, "orders", with(orders, "spec.template.spec.containers.0.securityContext.allowPrivilegeEscalation", nil))),
		want: []string{"may escalate privileges. Fix: set the container's securityContext allowPrivilegeEscalation: false"}},

	{name: "SSH open to the world", policy: "network-ingress-restricted", give: one(res(tSG, "bastion", worldSG)),
		want: []string{`aws:ec2/securityGroup:SecurityGroup "bastion": ingress[0] opens port 22 to the whole internet. Fix: allow named CIDRs only`}},
	{name: "SSH from a named range", policy: "network-ingress-restricted", give: one(res(tSG, "bastion", with(worldSG, "ingress.0.cidrBlocks", arr{"198.51.100.0/24"})))},
	{name: "gateway on 443", policy: "network-ingress-restricted", give: one(res(tSG, "public-gateway", with(with(worldSG, "ingress.0.fromPort", 443), "ingress.0.toPort", 443)))},
	{name: "gateway on every port", policy: "network-ingress-restricted", give: one(res(tSG, "public-gateway", with(worldSG, "ingress.0.protocol", "-1"))),
		want: []string{"opens every port"}},
	{name: "OpenStack rule with no remote", policy: "network-ingress-restricted", give: one(res(tOSRule, "ssh", obj{"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22})),
		want: []string{"the rule opens port 22 to the whole internet"}},
	{name: "OpenStack rule from a group", policy: "network-ingress-restricted", give: one(res(tOSRule, "ssh", obj{"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22, "remoteGroupId": "sg-1"}))},
	{name: "public LoadBalancer that is not the gateway", policy: "network-ingress-restricted",
		give: one(res(tService, "admin", with(service("admin", "shop", obj{"app": "admin"}), "spec.type", "LoadBalancer"))),
		want: []string{`Service "shop/admin" (resource "admin"): the LoadBalancer Service opens port 80 to the whole internet`}},
	{name: "gateway LoadBalancer", policy: "network-ingress-restricted",
		give: one(res(tService, "istio-gateway", with(service("istio-gateway", "istio-ingress", obj{"app": "gw"}), "spec.type", "LoadBalancer")))},
	{name: "gateway ports from config", policy: "network-ingress-restricted", config: map[string]any{"allowedPublicPorts": []any{"443"}},
		give: one(res(tService, "istio-gateway", with(service("istio-gateway", "istio-ingress", obj{"app": "gw"}), "spec.type", "LoadBalancer"))),
		want: []string{"opens port 80 to the whole internet. Fix: the public gateway may open only 443"}},
	{name: "gateway LoadBalancer with Istio's status port", policy: "network-ingress-restricted",
		give: one(res(tService, "istio-gateway", with(with(service("istio-gateway", "istio-ingress", obj{"app": "gw"}), "spec.type", "LoadBalancer"), "spec.ports",
			arr{obj{"name": "status-port", "port": 15021, "targetPort": 15021}, obj{"name": "http2", "port": 80, "targetPort": 80}, obj{"name": "https", "port": 443, "targetPort": 443}}))),
		want: []string{`the LoadBalancer Service opens port 15021 ("status-port") to the whole internet. Fix: the public gateway may open only 80/443`}},
	{name: "SG rule over a port range", policy: "network-ingress-restricted", give: one(res(tSG, "nodes", with(with(worldSG, "ingress.0.fromPort", 30000), "ingress.0.toPort", 32767))),
		want: []string{"ingress[0] opens ports 30000-32767 to the whole internet"}},

	{name: "private EKS endpoint, public one restricted", policy: "cluster-api-restricted", give: one(res(tEKS, "eks", eks))},
	{name: "EKS API open to the world", policy: "cluster-api-restricted",
		give: one(res(tEKS, "eks", with(with(eks, "vpcConfig.endpointPrivateAccess", false), "vpcConfig.publicAccessCidrs", nil))),
		want: []string{"has the private API endpoint off", "public API endpoint open to 0.0.0.0/0"}},
	{name: "Magnum API restricted", policy: "cluster-api-restricted", give: one(res(tMagnum, "prod", obj{"labels": magnumLabels}))},
	{name: "Magnum API open", policy: "cluster-api-restricted", give: one(res(tMagnum, "prod", obj{"labels": with(magnumLabels, "master_lb_allowed_cidrs", "")})),
		want: []string{"exposes the Kubernetes API on a floating IP to the whole internet"}},
	{name: "Magnum template API restricted (Cluster API driver label)", policy: "cluster-api-restricted",
		give: one(res(tMagnumTmpl, "prod", obj{"labels": obj{"master_lb_floating_ip_enabled": "true", "api_master_lb_allowed_cidrs": "10.40.0.0/16,203.0.113.0/24"}}))},
	{name: "Magnum template API open (Cluster API driver label)", policy: "cluster-api-restricted",
		give: one(res(tMagnumTmpl, "prod", obj{"labels": obj{"master_lb_floating_ip_enabled": "true", "api_master_lb_allowed_cidrs": "0.0.0.0/0"}})),
		want: []string{"exposes the Kubernetes API on a floating IP to the whole internet"}},

	{name: "encrypted RDS", policy: "encryption-at-rest", give: one(res(tRDS, "orders-db", db))},
	{name: "unencrypted RDS", policy: "encryption-at-rest", give: one(res(tRDS, "orders-db", with(db, "storageEncrypted", nil))),
		want: []string{`aws:rds/instance:Instance "orders-db": its storage is not encrypted at rest. Fix: set storageEncrypted: true`}},
	{name: "unencrypted launch template disk", policy: "encryption-at-rest", give: one(res("aws:ec2/launchTemplate:LaunchTemplate", "general", obj{
		"blockDeviceMappings": arr{obj{"deviceName": "/dev/xvda", "ebs": obj{"volumeSize": 100}}}})),
		want: []string{"disk blockDeviceMappings[0] (/dev/xvda) is not encrypted"}},
	{name: "unencrypted EBS StorageClass", policy: "encryption-at-rest", give: one(res("kubernetes:storage.k8s.io/v1:StorageClass", "gp3", obj{
		"metadata": meta("gp3", ""), "provisioner": "ebs.csi.aws.com", "parameters": obj{"type": "gp3"}})),
		want: []string{`StorageClass "gp3" (resource "gp3"): provisions unencrypted EBS volumes`}},
	{name: "Cinder unchecked without types", policy: "encryption-at-rest", give: one(res("openstack:blockstorage/volume:Volume", "data", obj{"size": 10, "volumeType": "standard"}))},
	{name: "Cinder volume type not encrypted", policy: "encryption-at-rest", config: map[string]any{"encryptedVolumeTypes": []any{"luks"}},
		give: one(res("openstack:blockstorage/volume:Volume", "data", obj{"size": 10, "volumeType": "standard"})), want: []string{`is of volume type "standard"`}},
	{name: "unencrypted redis", policy: "encryption-at-rest", give: one(res(tRedis, "sessions", with(redis, "atRestEncryptionEnabled", false))),
		want: []string{"its data is not encrypted at rest"}},

	{name: "TLS everywhere", policy: "encryption-in-transit", give: []rules.Resource{res(tMSK, "events", msk), res(tRedis, "sessions", redis)}},
	{name: "plaintext Kafka and Redis", policy: "encryption-in-transit", give: []rules.Resource{
		res(tMSK, "events", with(msk, "encryptionInfo.encryptionInTransit.clientBroker", "TLS_PLAINTEXT")),
		res(tRedis, "sessions", with(redis, "transitEncryptionEnabled", nil))},
		want: []string{"accepts plaintext client connections (clientBroker TLS_PLAINTEXT)", `"sessions": accepts plaintext connections`}},

	{name: "an HTTPS gateway", policy: "encryption-in-transit", give: one(res("kubernetes:networking.istio.io/v1:Gateway", "public", obj{"spec": obj{"servers": []any{
		obj{"port": obj{"number": 443, "protocol": "HTTPS"}, "tls": obj{"mode": "SIMPLE", "credentialName": "edge-tls"}},
		obj{"port": obj{"number": 80, "protocol": "HTTP"}, "tls": obj{"httpsRedirect": true}},
	}}}))},
	{name: "a plain HTTP gateway", policy: "encryption-in-transit", give: one(res("kubernetes:networking.istio.io/v1:Gateway", "public", obj{"spec": obj{"servers": []any{
		obj{"port": obj{"number": 80, "protocol": "HTTP"}},
	}}})), want: []string{"serves plain HTTP only"}},

	{name: "a gateway behind a TLS load balancer", policy: "encryption-in-transit", give: one(res(tGateway, "public", lbGateway))},
	{name: "plain HTTP on 443 without the declaration", policy: "encryption-in-transit",
		give: one(res(tGateway, "public", with(lbGateway, "metadata.annotations", nil))), want: []string{"serves plain HTTP only"}},
	{name: "another value of the declaration", policy: "encryption-in-transit",
		give: one(res(tGateway, "public", with(lbGateway, "metadata.annotations", obj{"groundwork.io/tls-termination": "none"}))), want: []string{"serves plain HTTP only"}},

	{name: "TLS at the load balancer", policy: "edge-tls-at-load-balancer", give: []rules.Resource{res(tGateway, "public", lbGateway), chartObject(res(tService, "gw", lbService))}},
	{name: "an HTTPS gateway declares nothing", policy: "edge-tls-at-load-balancer", give: one(res(tGateway, "public", obj{"metadata": meta("public", "istio-ingress"), "spec": obj{"servers": []any{
		obj{"port": obj{"number": 443, "protocol": "HTTPS"}, "tls": obj{"mode": "SIMPLE", "credentialName": "edge-tls"}},
	}}}))},
	{name: "no load balancer in front", policy: "edge-tls-at-load-balancer", give: []rules.Resource{res(tGateway, "public", lbGateway),
		res(tService, "gw", with(lbService, "spec.selector", obj{"istio": "eastwestgateway"}))},
		want: []string{"no LoadBalancer Service selects its pods"}},
	{name: "a load balancer without a certificate", policy: "edge-tls-at-load-balancer", give: []rules.Resource{res(tGateway, "public", lbGateway),
		res(tService, "gw", with(lbService, "metadata.annotations", obj{"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}))},
		want: []string{`its Service "istio-ingress/istio-ingressgateway" has no certificate`}},
	{name: "TLS on port 80 only", policy: "edge-tls-at-load-balancer", give: []rules.Resource{res(tGateway, "public", lbGateway),
		res(tService, "gw", lbServiceWith("service.beta.kubernetes.io/aws-load-balancer-ssl-ports", "80"))},
		want: []string{"serves plain HTTP on port 443 behind the load balancer"}},
	{name: "the default TLS policy", policy: "edge-tls-at-load-balancer", give: []rules.Resource{res(tGateway, "public", lbGateway),
		res(tService, "gw", lbServiceWith("service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy", nil))},
		want: []string{`sets the TLS policy "", which admits TLS older than 1.2`}},
	{name: "a plain port 80 that does not redirect", policy: "edge-tls-at-load-balancer", give: []rules.Resource{
		res(tGateway, "public", with(lbGateway, "spec.servers", []any{
			obj{"port": obj{"number": 443, "protocol": "HTTP"}, "hosts": []any{"api.example.com"}},
			obj{"port": obj{"number": 80, "protocol": "HTTP"}, "hosts": []any{"api.example.com"}},
		})), res(tService, "gw", lbService)},
		want: []string{"serves plain HTTP on port 80 behind the load balancer"}},

	{name: "secret Secret", policy: "secrets-not-plaintext", give: one(res(tSecret, "orders-db", obj{"metadata": meta("orders-db", "shop"), "stringData": obj{"password": secret("x")}}))},
	{name: "whole data map secret", policy: "secrets-not-plaintext", give: one(res(tSecret, "orders-db", obj{"metadata": meta("orders-db", "shop"), "stringData": resource.MakeSecret(resource.NewObjectProperty(resource.NewPropertyMapFromMap(obj{"password": "x"})))}))},
	{name: "plaintext Secret", policy: "secrets-not-plaintext", give: one(res(tSecret, "orders-db", obj{"metadata": meta("orders-db", "shop"), "stringData": obj{"password": "hunter2"}})),
		want: []string{`Secret "shop/orders-db" (resource "orders-db"): stringData.password is stored in plain text in the Pulumi state. Fix: wrap the value with pulumi.ToSecret`}},
	{name: "plaintext RDS password", policy: "secrets-not-plaintext", give: one(res(tRDS, "orders-db", with(db, "password", "hunter2"))),
		want: []string{"password is in plain text"}},
	{name: "password in a literal env value", policy: "secrets-not-plaintext",
		give: one(res(tDeployment, "orders", with(orders, "spec.template.spec.containers.0.env", arr{obj{"name": "DB_PASSWORD", "value": "hunter2"}, obj{"name": "DB_NAME", "value": "orders"}}))),
		want: []string{`container "app" gets DB_PASSWORD as a literal env value. Fix: store it in a Kubernetes Secret`}},
	{name: "KUBECONFIG naming a file", policy: "secrets-not-plaintext",
		give: one(res(tDeployment, "istiod", with(orders, "spec.template.spec.containers.0.env", arr{obj{"name": "KUBECONFIG", "value": "/var/run/secrets/remote/config"}, obj{"name": "DB_PASSWORD", "value": ""}})))},
	{name: "KUBECONFIG listing files", policy: "secrets-not-plaintext",
		give: one(res(tDeployment, "ops", with(orders, "spec.template.spec.containers.0.env", arr{obj{"name": "KUBECONFIG", "value": "/etc/kube/a.yaml:/etc/kube/b.yaml"}})))},
	{name: "kubeconfig contents in a literal env value", policy: "secrets-not-plaintext",
		give: one(res(tDeployment, "ops", with(orders, "spec.template.spec.containers.0.env", arr{obj{"name": "KUBECONFIG", "value": "apiVersion: v1\nkind: Config\nusers: [{name: admin, user: {token: abc}}]"}}))),
		want: []string{`container "app" gets KUBECONFIG as a literal env value`}},
	{name: "token that only starts like a path", policy: "secrets-not-plaintext",
		give: one(res(tDeployment, "ops", with(orders, "spec.template.spec.containers.0.env", arr{obj{"name": "API_TOKEN", "value": "/s3cr3t"}, obj{"name": "DB_PASSWORD", "value": "/etc/passwd hunter2"}}))),
		want: []string{`gets API_TOKEN as a literal env value`, `gets DB_PASSWORD as a literal env value`}},
	{name: "plaintext stack output", policy: "stack-outputs-secret", give: one(res("pulumi:pulumi:Stack", "groundwork-prod", obj{"grafanaAdminPassword": "admin", "kubeconfig": secret("{}"), "gatewayUrl": "https://x"})),
		want: []string{`pulumi:pulumi:Stack "groundwork-prod": output grafanaAdminPassword is in plain text. Fix: export it as a secret`}},
	{name: "secret stack outputs", policy: "stack-outputs-secret", give: one(res("pulumi:pulumi:Stack", "groundwork-prod", obj{"grafanaAdminPassword": secret("admin"), "kubeconfig": secret("{}"), "gatewayUrl": "https://x"}))},
	{name: "plaintext provider credentials", policy: "secrets-not-plaintext", give: one(res("pulumi:providers:aws", "legacy", obj{"region": "eu-west-1", "accessKey": "AKIAEXAMPLE", "secretKey": "wJalrXUtnFEMI"})),
		want: []string{`pulumi:providers:aws "legacy": secretKey is in plain text`}},
	{name: "references to secrets are not secrets", policy: "secrets-not-plaintext", give: one(res("aws:msk/scramSecretAssociation:ScramSecretAssociation", "events", obj{"secretArnList": arr{"arn:aws:secretsmanager:..."}, "clusterArn": "arn"}))},

	{name: "mesh-wide STRICT", policy: "mesh-mtls-strict", give: []rules.Resource{
		res(tIstiod, "istiod", obj{"chart": "istiod", "version": "1.30.0"}),
		res(tPeerAuth, "mesh-mtls", obj{"metadata": meta("default", "istio-system"), "spec": obj{"mtls": obj{"mode": "STRICT"}}})}},
	{name: "Istio without a mesh-wide policy", policy: "mesh-mtls-strict", give: one(res(tIstiod, "istiod", obj{"chart": "istiod", "version": "1.30.0"})),
		want: []string{`kubernetes:helm.sh/v4:Chart "istiod": runs Istio, but no mesh-wide PeerAuthentication enforces mTLS`}},
	{name: "namespace relaxed to PERMISSIVE", policy: "mesh-mtls-strict", give: []rules.Resource{
		res(tIstiod, "istiod", obj{"chart": "istiod", "version": "1.30.0"}),
		res(tPeerAuth, "mesh-mtls", obj{"metadata": meta("default", "istio-system"), "spec": obj{"mtls": obj{"mode": "STRICT"}}}),
		res(tPeerAuth, "legacy", obj{"metadata": meta("legacy", "shop"), "spec": obj{"mtls": obj{"mode": "PERMISSIVE"}}})},
		want: []string{`PeerAuthentication.security.istio.io "shop/legacy" (resource "legacy"): sets mTLS mode PERMISSIVE`}},
	{name: "no Istio, no requirement", policy: "mesh-mtls-strict", give: one(res(tDeployment, "orders", orders))},

	{name: "namespace with policies", policy: "namespace-network-policy", give: withCompanions(orders)},
	{name: "namespace without policies", policy: "namespace-network-policy", give: one(res(tDeployment, "orders", orders)),
		want: []string{`runs in namespace "shop", which has no NetworkPolicy`}},

	// Stack policies.
	{name: "deployment with Service, PDB and HPA", policy: "stack-deployment-companions", give: withCompanions(orders)},
	{name: "bare deployment", policy: "stack-deployment-companions", give: one(res(tDeployment, "orders", orders)),
		want: []string{`Deployment "shop/orders" (resource "orders"): no Service selects its pods; no PodDisruptionBudget covers it; no HorizontalPodAutoscaler scales it. Fix: add a Service`}},
	{name: "Service selecting other pods", policy: "stack-deployment-companions", give: append(withCompanions(orders)[:1:1],
		res(tService, "orders", service("orders", "shop", obj{"app": "payments"})), res(tPDB, "orders", pdb("orders", "shop", obj{"app": "orders"})), res(tHPA, "orders", hpa("orders", "shop", "orders"))),
		want: []string{"no Service selects its pods. Fix"}},
	{name: "HPA for another deployment", policy: "stack-deployment-companions", give: append(withCompanions(orders)[:3:3], res(tHPA, "orders", hpa("orders", "shop", "payments"))),
		want: []string{"no HorizontalPodAutoscaler scales it"}},

	{name: "default deny", policy: "namespace-default-deny", give: withCompanions(orders)},
	{name: "ingress-only deny", policy: "namespace-default-deny", give: []rules.Resource{res(tDeployment, "orders", orders),
		res(tNetPol, "deny", with(denyAll("shop"), "spec.policyTypes", arr{"Ingress"}))},
		want: []string{`runs in namespace "shop", which has no default-deny NetworkPolicy for Egress`}},
	{name: "ingress-only deny is enough by config", policy: "namespace-default-deny", config: map[string]any{"directions": []any{"Ingress"}},
		give: []rules.Resource{res(tDeployment, "orders", orders), res(tNetPol, "deny", with(denyAll("shop"), "spec.policyTypes", arr{"Ingress"}))}},
	{name: "allow rule is not a deny", policy: "namespace-default-deny", give: []rules.Resource{res(tDeployment, "orders", orders),
		res(tNetPol, "allow", with(denyAll("shop"), "spec.ingress", arr{obj{"from": arr{obj{"podSelector": obj{}}}}}))},
		want: []string{"no default-deny NetworkPolicy for Ingress"}},
	{name: "namespace not a service namespace", policy: "namespace-default-deny", config: map[string]any{"serviceNamespaces": []any{"svc-*"}},
		give: one(res(tDeployment, "orders", orders))},
}

func TestPolicies(t *testing.T) {
	for _, tt := range cases {
		t.Run(tt.policy+"/"+tt.name, func(t *testing.T) {
			p, ok := rules.Lookup(tt.policy)
			require.True(t, ok, "no policy %s", tt.policy)
			got, err := rules.CheckAll(p, tt.give, tt.config)
			require.NoError(t, err)
			var msgs []string
			for _, f := range got {
				msgs = append(msgs, f.Message)
			}
			require.Len(t, msgs, len(tt.want), "violations: %q", msgs)
			for i, want := range tt.want {
				assert.Contains(t, msgs[i], want)
				// Every message names the resource at fault and says how to fix it.
				assert.Contains(t, msgs[i], `"`+got[i].Resource.Name+`"`)
				assert.Contains(t, msgs[i], ". Fix: ")
			}
		})
	}
}

// TestEveryPolicyIsTested keeps the table honest: each policy has a compliant and a violating row.
func TestEveryPolicyIsTested(t *testing.T) {
	compliant, violating := map[string]bool{}, map[string]bool{}
	for _, c := range cases {
		if len(c.want) == 0 {
			compliant[c.policy] = true
		} else {
			violating[c.policy] = true
		}
	}
	for _, p := range rules.Policies() {
		assert.Truef(t, compliant[p.Name], "%s has no compliant case", p.Name)
		assert.Truef(t, violating[p.Name], "%s has no violating case", p.Name)
	}
}

func TestPoliciesAreDescribed(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range rules.Policies() {
		assert.Falsef(t, seen[p.Name], "duplicate policy %s", p.Name)
		seen[p.Name] = true
		assert.Regexp(t, `^[a-z][a-z0-9-]+$`, p.Name)
		assert.Contains(t, []rules.Goal{rules.Reliability, rules.Scalability, rules.Maintainability, rules.Security, rules.Stack}, p.Goal)
		assert.True(t, strings.HasPrefix(p.FullDescription(), map[rules.Goal]string{
			rules.Reliability: "Reliability: ", rules.Scalability: "Scalability: ", rules.Maintainability: "Maintainability: ",
			rules.Security: "Security: ", rules.Stack: "Stack: "}[p.Goal]), p.FullDescription())
		assert.Truef(t, (p.Check == nil) != (p.CheckStack == nil), "%s must be a resource or a stack policy", p.Name)
		assert.Contains(t, []rules.Level{rules.Advisory, rules.Mandatory}, p.Level)
	}
}

func TestRenderedByChart(t *testing.T) {
	for urn, want := range map[string]bool{
		"urn:pulumi:prod::groundwork::groundwork:platform:Observability$kubernetes:helm.sh/v4:Chart$kubernetes:apps/v1:Deployment::observability:monitoring/grafana": true,
		"urn:pulumi:prod::groundwork::kubernetes:helm.sh/v3:Release$kubernetes:apps/v1:Deployment::x":                                                                true,
		"urn:pulumi:prod::groundwork::groundwork:platform:Redis$kubernetes:apps/v1:Deployment::redis-proxy":                                                          false,
		"urn:pulumi:prod::groundwork::groundwork:platform:Observability$kubernetes:helm.sh/v4:Chart::observability":                                                  false,
		"urn:pulumi:prod::groundwork::kubernetes:apps/v1:Deployment::a::b":                                                                                           false,
		"not a urn": false,
	} {
		assert.Equal(t, want, rules.RenderedByChart(urn), urn)
	}
}
