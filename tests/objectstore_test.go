package tests

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/platform"
)

// The platform's object storage: buckets made by the base layer, and the trace and log stores
// that keep their data there.

const (
	bucketType    = "aws:s3/bucketV2:BucketV2"
	containerType = "openstack:objectstorage/container:Container"
	secretType2   = "kubernetes:core/v1:Secret"
)

// trustedSubjects are the service accounts an IRSA role's trust policy admits.
func trustedSubjects(t *testing.T, role Recorded) []string {
	t.Helper()
	trust := policyDoc(t, get(role.Inputs, "assumeRolePolicy").StringValue())
	cond := trust["Statement"].([]any)[0].(map[string]any)["Condition"].(map[string]any)["StringEquals"].(map[string]any)
	var out []string
	for k, v := range cond {
		if !strings.HasSuffix(k, ":sub") {
			continue
		}
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, s := range v {
				out = append(out, s.(string))
			}
		}
	}
	return out
}

// policyDoc decodes an IAM policy document input.
func policyDoc(t *testing.T, raw string) map[string]any {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &doc), raw)
	return doc
}

func TestProdTracesAreReplicatedInTempoOnAPrivateS3Bucket(t *testing.T) {
	m, err := run(t, "prod", stackConfig(t, "prod"), nil, platform.Run)
	require.NoError(t, err)

	bucket := m.byName(t, bucketType, "groundwork-prod-traces")
	name := bucket.Outputs["bucket"].StringValue()
	assert.True(t, strings.HasPrefix(name, "groundwork-prod-traces-"), name)
	assert.False(t, get(bucket.Inputs, "forceDestroy").BoolValue(), "a prod destroy does not empty the trace bucket")
	block := m.byName(t, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "groundwork-prod-traces")
	for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		assert.True(t, get(block.Inputs, k).BoolValue(), k)
	}
	sse := m.byName(t, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "groundwork-prod-traces")
	assert.Equal(t, "AES256", get(sse.Inputs, "rules").ArrayValue()[0].ObjectValue()["applyServerSideEncryptionByDefault"].ObjectValue()["sseAlgorithm"].StringValue())
	life := m.byName(t, "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2", "groundwork-prod-traces")
	rule := get(life.Inputs, "rules").ArrayValue()[0].ObjectValue()
	assert.Equal(t, 21.0, rule["expiration"].ObjectValue()["days"].NumberValue(), "14 days of traces, plus a week behind the compactor")
	deny := policyDoc(t, get(m.byName(t, "aws:s3/bucketPolicy:BucketPolicy", "groundwork-prod-traces").Inputs, "policy").StringValue())
	stmt := deny["Statement"].([]any)[0].(map[string]any)
	assert.Equal(t, "Deny", stmt["Effect"])
	assert.Equal(t, map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}, stmt["Condition"], "plain HTTP is refused")

	// Only Tempo's service account assumes the role, and the role reaches only this bucket.
	role := m.byName(t, "aws:iam/role:Role", "groundwork-prod-traces")
	assert.Equal(t, []string{"system:serviceaccount:monitoring:tempo"}, trustedSubjects(t, role))
	access := policyDoc(t, get(m.byName(t, "aws:iam/rolePolicy:RolePolicy", "groundwork-prod-traces").Inputs, "policy").StringValue())
	for _, s := range access["Statement"].([]any) {
		res := s.(map[string]any)["Resource"].(string)
		assert.True(t, res == "arn:aws:s3:::"+name || res == "arn:aws:s3:::"+name+"/*", "the role reaches %s", res)
	}

	tempo := m.byName(t, helmChartType, "observability-tempo")
	assert.Equal(t, "2.13.0", get(tempo.Inputs, "version").StringValue())
	assert.Equal(t, "monitoring", get(tempo.Inputs, "namespace").StringValue())
	assert.Equal(t, "s3", get(tempo.Inputs, "values.storage.trace.backend").StringValue())
	assert.Equal(t, name, get(tempo.Inputs, "values.storage.trace.s3.bucket").StringValue())
	assert.Equal(t, "s3.eu-west-1.amazonaws.com", get(tempo.Inputs, "values.storage.trace.s3.endpoint").StringValue())
	assert.True(t, get(tempo.Inputs, "values.storage.trace.s3.access_key").IsNull(), "IRSA: no keys anywhere")
	assert.Equal(t, role.Outputs["arn"].StringValue(), get(tempo.Inputs, "values.serviceAccount.annotations").ObjectValue()["eks.amazonaws.com/role-arn"].StringValue())
	assert.Equal(t, "tempo", get(tempo.Inputs, "values.serviceAccount.name").StringValue())
	assert.Equal(t, 3.0, get(tempo.Inputs, "values.ingester.replicas").NumberValue())
	assert.Equal(t, 3.0, get(tempo.Inputs, "values.ingester.config.replication_factor").NumberValue(), "every span on three ingesters")
	assert.Equal(t, 3.0, get(tempo.Inputs, "values.distributor.replicas").NumberValue())
	assert.Equal(t, 2.0, get(tempo.Inputs, "values.querier.replicas").NumberValue())
	assert.Equal(t, 2.0, get(tempo.Inputs, "values.queryFrontend.replicas").NumberValue())
	assert.Equal(t, "gp3", get(tempo.Inputs, "values.ingester.persistence.storageClass").StringValue())
	assert.Equal(t, "336h", get(tempo.Inputs, "values.compactor.config.compaction.block_retention").StringValue())
	for _, c := range []string{"distributor", "ingester", "querier", "queryFrontend", "compactor", "memcached"} {
		assert.False(t, get(tempo.Inputs, "values."+c+".resources.limits.memory").IsNull(), "%s has limits", c)
	}

	// The mesh sends its spans to Tempo's distributors; Grafana reads from the query frontend.
	istiod := m.byName(t, helmChartType, "istio-istiod")
	provider := get(istiod.Inputs, "values.meshConfig.extensionProviders").ArrayValue()[0].ObjectValue()["opentelemetry"].ObjectValue()
	assert.Equal(t, "tempo-distributor.monitoring.svc.cluster.local", provider["service"].StringValue())
	assert.Equal(t, 4317.0, provider["port"].NumberValue())
	assert.True(t, m.waitsFor(tempo, m.byName(t, "groundwork:platform:Namespace", "ns-monitoring")))
	ds := get(m.byName(t, helmChartType, "observability").Inputs, "values.grafana.additionalDataSources").ArrayValue()
	require.Len(t, ds, 2, "Tempo, and Loki: prod aggregates logs by default")
	assert.Equal(t, "tempo", ds[0].ObjectValue()["type"].StringValue())
	assert.Equal(t, "loki", ds[1].ObjectValue()["type"].StringValue())
	assert.Equal(t, "http://tempo-query-frontend.monitoring.svc.cluster.local:3200", ds[0].ObjectValue()["url"].StringValue())
	assert.Empty(t, named(m.ofType("kubernetes:apps/v1:Deployment"), "observability-jaeger"), "no in-memory Jaeger in prod")
	assert.Empty(t, named(m.ofType(bucketType), "groundwork-prod-backups"), "RDS backs itself up: no backup bucket")
}

func TestInClusterDatabasesOnAWSBackUpWithTheBucketRole(t *testing.T) {
	cfg := stackConfig(t, "dev")
	cfg["groundwork:cloud"] = "aws"
	m, err := run(t, "dev", cfg, nil, platform.Run)
	require.NoError(t, err)

	bucket := m.byName(t, bucketType, "groundwork-dev-backups")
	name := bucket.Outputs["bucket"].StringValue()
	assert.False(t, get(bucket.Inputs, "forceDestroy").BoolValue(), "backups outlive a destroy, even in dev")
	versioning := m.byName(t, "aws:s3/bucketVersioningV2:BucketVersioningV2", "groundwork-dev-backups")
	assert.Equal(t, "Enabled", get(versioning.Inputs, "versioningConfiguration.status").StringValue())
	life := m.byName(t, "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2", "groundwork-dev-backups")
	rule := get(life.Inputs, "rules").ArrayValue()[0].ObjectValue()
	assert.Equal(t, 14.0, get(rule, "noncurrentVersionExpiration.noncurrentDays").NumberValue(), "7 days of backups, plus a week")
	assert.True(t, m.waitsFor(life, versioning), "rules on old versions need versioning first")

	role := m.byName(t, "aws:iam/role:Role", "groundwork-dev-backups")
	clusters := m.ofType("kubernetes:postgresql.cnpg.io/v1:Cluster")
	require.NotEmpty(t, clusters)
	var want []string
	for _, c := range clusters {
		cluster := get(c.Inputs, "metadata.name").StringValue()
		want = append(want, "system:serviceaccount:data:"+cluster)
		store := get(c.Inputs, "spec.backup.barmanObjectStore").ObjectValue()
		assert.Equal(t, "s3://"+name+"/postgres/"+cluster, store["destinationPath"].StringValue())
		assert.True(t, get(store, "s3Credentials.inheritFromIAMRole").BoolValue(), "%s: IRSA, no keys", cluster)
		assert.True(t, store["endpointURL"].IsNull(), "AWS S3 needs no endpoint")
		annotations := get(c.Inputs, "spec.serviceAccountTemplate.metadata.annotations").ObjectValue()
		assert.Equal(t, role.Outputs["arn"].StringValue(), annotations["eks.amazonaws.com/role-arn"].StringValue(), cluster)
	}
	assert.ElementsMatch(t, want, trustedSubjects(t, role), "exactly the database pods' service accounts assume the role")
	assert.Empty(t, named(m.ofType(secretType2), "postgres-backup-credentials"), "no keys exist on AWS")
}

func TestTracesOnSwiftUseKeysFromASecret(t *testing.T) {
	cfg := stackConfig(t, "prod")
	onOpenStack(t, cfg)
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)

	container := m.byName(t, containerType, "groundwork-prod-traces")
	assert.Equal(t, "groundwork-prod-traces", get(container.Inputs, "name").StringValue())
	assert.False(t, get(container.Inputs, "forceDestroy").BoolValue())
	cred := m.ofType("openstack:identity/ec2CredentialV3:Ec2CredentialV3")
	require.Len(t, cred, 1, "Keystone's EC2 credentials cover every container of the project: one is shared")

	tempo := m.byName(t, helmChartType, "observability-tempo")
	s3 := get(tempo.Inputs, "values.storage.trace.s3").ObjectValue()
	assert.Equal(t, "groundwork-prod-traces", s3["bucket"].StringValue())
	assert.Equal(t, "object-store.example.com", s3["endpoint"].StringValue(), "Tempo takes a host, without scheme")
	assert.False(t, s3["insecure"].BoolValue())
	assert.True(t, s3["forcepathstyle"].BoolValue(), "Swift's S3 API addresses buckets by path")
	assert.Equal(t, "${AWS_ACCESS_KEY_ID}", s3["access_key"].StringValue(), "the key is expanded from the environment, never written in values")
	assert.Equal(t, "${AWS_SECRET_ACCESS_KEY}", s3["secret_key"].StringValue())
	for _, c := range []string{"distributor", "ingester", "querier", "queryFrontend", "compactor"} {
		assert.Equal(t, []string{"-config.expand-env=true"}, strs(get(tempo.Inputs, "values."+c+".extraArgs")), c)
		from := get(tempo.Inputs, "values."+c+".extraEnvFrom").ArrayValue()
		require.Len(t, from, 1, c)
		assert.Equal(t, "tempo-object-store", from[0].ObjectValue()["secretRef"].ObjectValue()["name"].StringValue(), c)
	}
	assert.True(t, get(tempo.Inputs, "values.memcached.extraArgs").IsNull(), "memcached takes no Tempo flags")

	secret := m.byName(t, secretType2, "observability-tempo-object-store")
	assert.Equal(t, "monitoring", get(secret.Inputs, "metadata.namespace").StringValue())
	assert.True(t, get(secret.Inputs, "stringData").ContainsSecrets(), "the keys stay secrets in state")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		assert.NotEmpty(t, propStr(get(secret.Inputs, "stringData."+k)), k)
	}
	assert.True(t, m.waitsFor(tempo, secret), "Tempo starts with its keys in place")
}

func TestProdLogsAreReplicatedInLokiOnTheLogsBucket(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg["groundwork:observability"] = `{"logs":true}`
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)

	bucket := m.byName(t, bucketType, "groundwork-prod-logs").Outputs["bucket"].StringValue()
	life := m.byName(t, "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2", "groundwork-prod-logs")
	assert.Equal(t, 37.0, get(life.Inputs, "rules").ArrayValue()[0].ObjectValue()["expiration"].ObjectValue()["days"].NumberValue(), "30 days of logs plus a week")
	role := m.byName(t, "aws:iam/role:Role", "groundwork-prod-logs")
	assert.Contains(t, get(role.Inputs, "assumeRolePolicy").StringValue(), `"system:serviceaccount:monitoring:loki"`)

	loki := m.byName(t, helmChartType, "observability-loki")
	assert.Equal(t, "6.47.0", get(loki.Inputs, "version").StringValue())
	assert.Equal(t, "SimpleScalable", get(loki.Inputs, "values.deploymentMode").StringValue())
	assert.Equal(t, 3.0, get(loki.Inputs, "values.loki.commonConfig.replication_factor").NumberValue(), "every stream written three times")
	for _, c := range []string{"write", "read", "backend"} {
		assert.Equal(t, 3.0, get(loki.Inputs, "values."+c+".replicas").NumberValue(), c)
		spread := get(loki.Inputs, "values."+c+".topologySpreadConstraints").ArrayValue()
		require.Len(t, spread, 1, "%s spreads over the zones", c)
		assert.Equal(t, c, get(spread[0].ObjectValue(), "labelSelector.matchLabels").ObjectValue()["app.kubernetes.io/component"].StringValue())
	}
	assert.Equal(t, 0.0, get(loki.Inputs, "values.singleBinary.replicas").NumberValue())
	assert.Equal(t, "s3", get(loki.Inputs, "values.loki.storage.type").StringValue())
	assert.Equal(t, bucket, get(loki.Inputs, "values.loki.storage.bucketNames.chunks").StringValue())
	assert.Equal(t, "s3", get(loki.Inputs, "values.loki.schemaConfig.configs").ArrayValue()[0].ObjectValue()["object_store"].StringValue())
	assert.Equal(t, "s3", get(loki.Inputs, "values.loki.compactor.delete_request_store").StringValue())
	assert.Equal(t, "720h", get(loki.Inputs, "values.loki.limits_config.retention_period").StringValue())
	assert.Equal(t, role.Outputs["arn"].StringValue(), get(loki.Inputs, "values.serviceAccount.annotations").ObjectValue()["eks.amazonaws.com/role-arn"].StringValue())
	assert.True(t, get(loki.Inputs, "values.loki.storage.s3.accessKeyId").IsNull(), "IRSA: no keys")

	alloy := m.byName(t, helmChartType, "observability-alloy")
	assert.Equal(t, 2.0, get(alloy.Inputs, "values.controller.replicas").NumberValue())
	assert.True(t, get(alloy.Inputs, "values.alloy.clustering.enabled").BoolValue(), "two collectors share the pods instead of sending each line twice")
	assert.Equal(t, 1.0, get(alloy.Inputs, "values.controller.podDisruptionBudget.minAvailable").NumberValue())
	content := get(alloy.Inputs, "values.alloy.configMap.content").StringValue()
	assert.Contains(t, content, `url = "http://loki-write.monitoring.svc.cluster.local:3100/loki/api/v1/push"`)
	assert.Contains(t, content, "clustering {\n    enabled = true\n  }")
	sources := map[string]resource.PropertyMap{}
	for _, d := range get(m.byName(t, helmChartType, "observability").Inputs, "values.grafana.additionalDataSources").ArrayValue() {
		sources[d.ObjectValue()["name"].StringValue()] = d.ObjectValue()
	}
	require.Contains(t, sources, "Loki")
	assert.Equal(t, "http://loki-read.monitoring.svc.cluster.local:3100", sources["Loki"]["url"].StringValue())
	// A log line links to its trace: the chassis logs trace_id, Grafana opens it in Tempo.
	derived := get(sources["Loki"], "jsonData.derivedFields").ArrayValue()[0].ObjectValue()
	assert.Equal(t, sources["Tempo"]["uid"].StringValue(), derived["datasourceUid"].StringValue())
	re := regexp.MustCompile(derived["matcherRegex"].StringValue())
	// The chassis logs with slog's JSON handler.
	var line bytes.Buffer
	slog.New(slog.NewJSONHandler(&line, nil)).Info("request", "request_id", "req-1", "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", "status", 200)
	m2 := re.FindStringSubmatch(line.String())
	require.Len(t, m2, 2, line.String())
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", m2[1])
}

func TestExistingClusterObjectStorage(t *testing.T) {
	base := func(env string) map[string]string {
		cfg := stackConfig(t, env)
		cfg["groundwork:cloud"] = "existing"
		cfg["groundwork:registry"] = `{"server":"registry.example.com/groundwork"}`
		cfg["groundwork:kubeconfig"] = magnumKubeconfig("kind-groundwork", "https://127.0.0.1:6443")
		return cfg
	}
	storage := func(extra string) string {
		return `{"nodeCidrs":["10.0.0.0/16"],"objectStorage":{"endpoint":"https://minio.example.com","accessKeyId":"AKIAEXAMPLE","secretAccessKey":"s3cr3t"` + extra + `}}`
	}
	secrets := []string{"groundwork:kubeconfig", "groundwork:existing"}

	t.Run("traces go to the buckets the owners made", func(t *testing.T) {
		cfg := base("dev")
		cfg["groundwork:existing"] = storage(`,"buckets":{"traces":"team-traces","backups":"team-backups"}`)
		m, err := run(t, "dev", cfg, secrets, platform.Run)
		require.NoError(t, err)
		tempo := m.byName(t, helmChartType, "observability-tempo")
		assert.Equal(t, "team-traces", get(tempo.Inputs, "values.storage.trace.s3.bucket").StringValue())
		assert.Equal(t, "minio.example.com", get(tempo.Inputs, "values.storage.trace.s3.endpoint").StringValue())
		assert.Equal(t, "us-east-1", get(tempo.Inputs, "values.storage.trace.s3.region").StringValue())
		assert.Equal(t, 1.0, get(tempo.Inputs, "values.ingester.replicas").NumberValue(), "dev: one of each")
		secret := m.byName(t, secretType2, "observability-tempo-object-store")
		require.True(t, get(secret.Inputs, "stringData").ContainsSecrets(), "the configured secret key stays a secret")
		assert.Equal(t, "s3cr3t", propStr(get(secret.Inputs, "stringData.AWS_SECRET_ACCESS_KEY")))
		assert.Empty(t, m.ofType(bucketType), "nothing is created in a cloud")
		for _, c := range m.ofType("kubernetes:postgresql.cnpg.io/v1:Cluster") {
			store := get(c.Inputs, "spec.backup.barmanObjectStore").ObjectValue()
			assert.Equal(t, "https://minio.example.com", store["endpointURL"].StringValue())
			assert.Equal(t, "s3://team-backups/postgres/"+get(c.Inputs, "metadata.name").StringValue(), store["destinationPath"].StringValue())
			assert.Equal(t, "postgres-backup", get(store, "s3Credentials.accessKeyId.name").StringValue())
		}
	})
	t.Run("node ranges open monitoring's egress", func(t *testing.T) {
		cfg := base("dev")
		cfg["groundwork:existing"] = `{"nodeCidrs":["192.168.10.0/24","192.168.20.0/24"]}`
		m, err := run(t, "dev", cfg, secrets, platform.Run)
		require.NoError(t, err)
		np := m.byName(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "ns-monitoring-allow")
		var cidrs []string
		for _, rule := range get(np.Inputs, "spec.egress").ArrayValue() {
			to := get(rule.ObjectValue(), "to")
			if !to.IsArray() {
				continue // a rule by port alone
			}
			for _, to := range to.ArrayValue() {
				if c := get(to.ObjectValue(), "ipBlock.cidr"); c.IsString() {
					cidrs = append(cidrs, c.StringValue())
				}
			}
		}
		assert.Equal(t, []string{"192.168.10.0/24", "192.168.20.0/24"}, cidrs)
		assert.NotEmpty(t, named(m.ofType("kubernetes:apps/v1:Deployment"), "observability-jaeger"), "no bucket in dev: Jaeger keeps recent traces in memory")
	})

	for _, tt := range []struct {
		name, env, existing string
		secret              bool
		want                string
	}{
		{"prod needs object storage", "prod", `{"nodeCidrs":["10.0.0.0/16"]}`, true,
			"groundwork:existing.objectStorage: required in prod: traces, logs and backups are kept in S3-compatible object storage, in buckets made for them, e.g. {endpoint: https://minio.example.com, accessKeyId: ..., secretAccessKey: (a secret), buckets: {traces: groundwork-traces, logs: groundwork-logs, backups: groundwork-backups}}"},
		{"bucket missing", "dev", storage(`,"buckets":{"trace":"x","backups":"team-backups"}`), true,
			"groundwork:existing.objectStorage.buckets.traces: missing: the name of the bucket made for traces\ngroundwork:existing.objectStorage.buckets.trace: unknown purpose; allowed: traces, logs, backups"},
		{"bad bucket name", "dev", storage(`,"buckets":{"traces":"Team_Traces","backups":"team-backups"}`), true,
			`groundwork:existing.objectStorage.buckets.traces: "Team_Traces" is not a bucket name (3 to 63 lowercase letters, digits, '.' and '-')`},
		{"plain http outside the cluster", "dev", strings.Replace(storage(`,"buckets":{"traces":"team-traces","backups":"team-backups"}`), "https://minio.example.com", "http://minio.example.com:9000", 1), true,
			`groundwork:existing.objectStorage.endpoint: "http://minio.example.com:9000": outside the cluster the platform's network policies let pods reach HTTPS on port 443 only; use an https URL on 443, or an in-cluster Service (http://minio.storage.svc:9000)`},
		{"secret key in plain text", "dev", storage(`,"buckets":{"traces":"team-traces","backups":"team-backups"}`), false,
			"groundwork:existing.objectStorage.secretAccessKey: is stored in plain text; set it with `pulumi config set --secret --path groundwork:existing.objectStorage.secretAccessKey`"},
		{"prod needs zones", "prod", `{"nodeCidrs":["10.0.0.0/16"],"zones":["zone-a"]}`, true,
			"groundwork:existing.zones: required in prod: two or more zones, as the nodes carry them in topology.kubernetes.io/zone (`kubectl get nodes -L topology.kubernetes.io/zone`), so replicas are spread across them; has 1"},
		{"bad zone", "dev", `{"nodeCidrs":["10.0.0.0/16"],"zones":["zone a","zone-b","zone-b"]}`, true,
			"groundwork:existing.zones[0]: \"zone a\" is not a distinct zone name as the nodes carry it in topology.kubernetes.io/zone\ngroundwork:existing.zones[2]: \"zone-b\" is not a distinct zone name"},
		{"no node ranges", "dev", `{}`, true,
			"groundwork:existing.nodeCidrs: missing: the address ranges of the cluster's nodes (the INTERNAL-IP column of `kubectl get nodes -o wide`), e.g. [\"10.0.0.0/16\"]; the platform's network policies let Prometheus reach kubelets and node-exporters there, and nothing else"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base(tt.env)
			cfg["groundwork:existing"] = tt.existing
			s := []string{"groundwork:kubeconfig"}
			if tt.secret {
				s = secrets
			}
			m, err := run(t, tt.env, cfg, s, platform.Run)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, m.resources, "nothing is created")
		})
	}
	t.Run("an in-cluster endpoint may be plain http", func(t *testing.T) {
		cfg := base("dev")
		cfg["groundwork:existing"] = strings.Replace(storage(`,"buckets":{"traces":"team-traces","backups":"team-backups"}`), "https://minio.example.com", "http://minio.storage.svc:9000", 1)
		m, err := run(t, "dev", cfg, secrets, platform.Run)
		require.NoError(t, err)
		s3 := get(m.byName(t, helmChartType, "observability-tempo").Inputs, "values.storage.trace.s3").ObjectValue()
		assert.Equal(t, "minio.storage.svc:9000", s3["endpoint"].StringValue())
		assert.True(t, s3["insecure"].BoolValue())
	})
}

// named are the recorded resources of that name.
func named(rs []Recorded, name string) []Recorded {
	var out []Recorded
	for _, r := range rs {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}
