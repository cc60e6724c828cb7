package platform

import (
	"cmp"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/components/database"
	"github.com/groundwork/groundwork/components/image"
	"github.com/groundwork/groundwork/components/kafka"
	"github.com/groundwork/groundwork/components/kong"
	"github.com/groundwork/groundwork/components/microservice"
	"github.com/groundwork/groundwork/components/observability"
	"github.com/groundwork/groundwork/components/postgres"
	"github.com/groundwork/groundwork/components/redis"
	"github.com/groundwork/groundwork/infra"
	"github.com/groundwork/groundwork/services"
)

// Data namespaces.
const (
	NamespaceData  = "data"
	NamespaceKafka = "kafka"
)

// jwtIssuer is the issuer of the identity service's tokens, which Kong verifies.
const jwtIssuer = "groundwork-identity"

// identityService is the service that issues access tokens and serves their JWKS.
const identityService = "identity"

// OperatorEmail is the login of the platform operator in the operators' tenant "platform"; its
// password is generated (stack output operatorPassword, a secret).
const OperatorEmail = "operator@groundwork.internal"

// TenantHeader carries the verified tenant of a request inside Kong, for per-tenant rate limits.
const TenantHeader = "X-Gateway-Tenant"

// ClientIdentityHeaders are removed from every request at the gateway: headers upstreams or
// Kong's own plugins use for an authenticated identity, which only the gateway may set.
var ClientIdentityHeaders = []string{"X-Consumer-ID", "X-Consumer-Custom-ID", "X-Consumer-Username", "X-Consumer-Groups",
	"X-Credential-Identifier", "X-Anonymous-Consumer", "X-Anonymous-Groups", "X-Authenticated-Groups", "X-Authenticated-Scope",
	"X-Authenticated-Userid", "X-Userinfo", "X-User-ID", "X-User-Roles", "X-Roles", "X-Real-IP"}

// keyID is the kid identity gives its ES256 key (services/chassis.KeyID): the first 8 bytes of
// the SHA-256 of the key's PKIX DER, base64url.
func keyID(publicPEM string) (string, error) {
	block, _ := pem.Decode([]byte(publicPEM))
	if block == nil {
		return "", fmt.Errorf("jwt signing key: public key is not PEM")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("jwt signing key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("jwt signing key: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:8]), nil
}

// identitySpec is the spec of the identity service, if it is deployed.
func identitySpec(specs []services.Spec) (services.Spec, bool) {
	for _, s := range specs {
		if s.Name == identityService {
			return s, true
		}
	}
	return services.Spec{}, false
}

// buildPlatform is the OS/architecture service images are built for.
const buildPlatform = "linux/amd64"

// dataSizing is what the environment decides about the data stores.
type dataSizing struct {
	brokers, pgInstances, cacheNodes int
	kafkaStorage, pgStorage          string
	retention                        time.Duration
	// backupRetentionDays is how long in-cluster database backups are kept.
	backupRetentionDays int
}

func dataSizingFor(env string) dataSizing {
	if env == EnvProd {
		return dataSizing{brokers: 3, pgInstances: 3, cacheNodes: 2, kafkaStorage: "100Gi", pgStorage: "20Gi", retention: 7 * 24 * time.Hour, backupRetentionDays: 30}
	}
	return dataSizing{brokers: 1, pgInstances: 1, cacheNodes: 1, kafkaStorage: "10Gi", pgStorage: "5Gi", retention: 24 * time.Hour, backupRetentionDays: 7}
}

// deployServices deploys every service of services/ with what it needs: its database, its Kafka
// user and topics, the shared cache, its image and its workload, in dependency order.
func deployServices(ctx *pulumi.Context, cfg *Config, cluster infra.Cluster, plat *Platform, specs []services.Spec) error {
	if len(specs) == 0 {
		return nil
	}
	src, err := chartSource(cfg)
	if err != nil {
		return err
	}
	on := pulumi.Providers(cluster.Provider())
	tags := tagsOf(ctx, cfg)
	size := dataSizingFor(cfg.Environment)
	mirror := cfg.Images.RegistryMirror
	managed := cfg.managedData()

	var dbs []postgres.Database
	var users []kafka.User
	partitions, retention := map[string]int{}, map[string]time.Duration{}
	for _, s := range specs {
		if s.Database != nil {
			dbs = append(dbs, postgres.Database{Name: s.Name, Namespace: NamespaceServices, StorageSize: s.Database.Storage})
		}
		u := kafka.User{Name: s.Name, Namespace: NamespaceServices, Consumes: s.Topics.Consumes}
		for _, t := range s.Topics.Produces {
			u.Produces = append(u.Produces, t.Name)
			partitions[t.Name] = t.Partitions
			retention[t.Name] = cmp.Or(t.Retention, size.retention)
		}
		users = append(users, u)
	}
	var topics []kafka.Topic
	for _, name := range sortedKeys(partitions) {
		topics = append(topics, kafka.Topic{Name: name, Partitions: partitions[name], ReplicationFactor: size.brokers, Retention: retention[name]})
	}
	after := slices.Clone(plat.namespaces)

	pgArgs := postgres.Args{
		Mode: postgres.ModeInCluster, Namespace: NamespaceData, Databases: dbs,
		Instances: size.pgInstances, Zones: cluster.Zones(), StorageClass: cluster.StorageClass(), StorageSize: size.pgStorage,
		ChartSource: src, ImageMirror: mirror, Network: cluster.Network(), Tags: tags,
	}
	kArgs := kafka.Args{
		Mode: kafka.ModeInCluster, Namespace: NamespaceKafka, Brokers: size.brokers, MinInSyncReplicas: min(2, size.brokers),
		Controllers: map[bool]int{false: 1, true: 3}[size.brokers > 1],
		Zones:       cluster.Zones(), StorageClass: cluster.StorageClass(), StorageSize: size.kafkaStorage,
		Topics: topics, Users: users, ChartSource: src, ImageMirror: mirror, Network: cluster.Network(), Tags: tags,
	}
	cacheArgs := redis.Args{
		Mode: redis.ModeInCluster, Namespace: NamespaceData, ClientNamespaces: []string{NamespaceServices},
		StorageClass: cluster.StorageClass(), ImageMirror: mirror, Network: cluster.Network(), Tags: tags,
		ElastiCache: redis.ElastiCacheArgs{Nodes: size.cacheNodes},
	}
	// The services' own resources (images, keys, workloads, backup credentials) hang below one
	// component.
	group := &servicesGroup{}
	if err := ctx.RegisterComponentResource("groundwork:services:DomainServices", "services", group); err != nil {
		return err
	}
	in := pulumi.Parent(group)
	if store := cluster.ObjectStore(BackupsBucket); store != nil && !managed {
		pgArgs.Backup = &postgres.Backup{
			Bucket: store.Bucket, Prefix: "postgres",
			RetentionPolicy: fmt.Sprintf("%dd", size.backupRetentionDays),
		}
		if store.RoleARN != nil {
			// AWS: the database pods assume the bucket's role; there are no keys.
			pgArgs.Backup.IAMRole = *store.RoleARN
		} else {
			creds, err := corev1.NewSecret(ctx, "postgres-backup-credentials", &corev1.SecretArgs{
				Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String("postgres-backup"), Namespace: pulumi.String(NamespaceData), Labels: pulumi.ToStringMap(tags.LabelMap("postgres"))},
				StringData: pulumi.StringMap{"ACCESS_KEY_ID": store.AccessKeyID, "ACCESS_SECRET_KEY": store.SecretAccessKey},
			}, on, in, chart.DependsOn(after))
			if err != nil {
				return err
			}
			pgArgs.Backup.EndpointURL, pgArgs.Backup.CredentialsSecret = store.Endpoint, "postgres-backup"
			after = append(after, creds)
		}
	}
	if cfg.Environment == EnvProd {
		// Three pods in different zones: Sentinel promotes a replica when the master's node or
		// zone goes, and HAProxy keeps the clients' endpoint on the master.
		cacheArgs.Replicas = 3
	}
	var protect []pulumi.ResourceOption
	if managed {
		pgArgs.Mode, kArgs.Mode, cacheArgs.Mode = postgres.ModeRDS, kafka.ModeMSK, redis.ModeElastiCache
		d := cfg.Data
		pgArgs.RDS = postgres.RDSArgs{InstanceClass: d.RDS.InstanceClass, AllocatedStorage: d.RDS.AllocatedStorage}
		cacheArgs.ElastiCache.NodeType = d.ElastiCache.NodeType
		kArgs.Brokers, kArgs.MinInSyncReplicas = d.MSK.Brokers, min(2, size.brokers, d.MSK.Brokers)
		kArgs.MSK = kafka.MSKArgs{InstanceType: d.MSK.InstanceType, VolumeSize: d.MSK.VolumeSize}
		for i := range kArgs.Topics {
			kArgs.Topics[i].ReplicationFactor = min(3, size.brokers, d.MSK.Brokers)
		}
		if cfg.Environment == EnvProd {
			pgArgs.RDS.MultiAZ, pgArgs.RDS.DeletionProtection, pgArgs.RDS.BackupRetentionDays = true, true, 14
			// A day of snapshots restores a warm cache after a failure of every node.
			cacheArgs.ElastiCache.SnapshotRetentionDays = 1
			// MSK and ElastiCache have no deletion protection of their own: Pulumi refuses to
			// delete or replace them until the protection is lifted on purpose.
			protect = append(protect, pulumi.Protect(true))
		}
	}
	pgArgs.After, kArgs.After, cacheArgs.After = after, after, after
	pg, err := postgres.New(ctx, "postgres", pgArgs, on)
	if err != nil {
		return err
	}
	events, err := kafka.New(ctx, "kafka", kArgs, append([]pulumi.ResourceOption{on}, protect...)...)
	if err != nil {
		return err
	}
	cache, err := redis.New(ctx, "redis", cacheArgs, append([]pulumi.ResourceOption{on}, protect...)...)
	if err != nil {
		return err
	}
	signing, err := jwtTrust(ctx, specs, plat, tags, on, in)
	if err != nil {
		return err
	}
	var operator *random.RandomPassword
	if _, ok := identitySpec(specs); ok {
		if operator, err = random.NewRandomPassword(ctx, "platform-operator-password", &random.RandomPasswordArgs{Length: pulumi.Int(32), Special: pulumi.Bool(false)}, in); err != nil {
			return err
		}
		ctx.Export("operatorPassword", pulumi.ToSecret(operator.Result))
		if cfg.Environment == EnvProd {
			// Kong counts rate limits in the shared Redis: it may reach the Redis port of the data
			// namespace, nothing else there.
			if err := kongToRedis(ctx, tags, on, in, chart.DependsOn(plat.namespaces)); err != nil {
				return err
			}
		}
	}
	callbacks, err := callbackKey(ctx, specs, in)
	if err != nil {
		return err
	}
	for _, s := range specs {
		deps := serviceDeps{pg: pg, events: events, cache: cache, signing: signing, operator: operator, callbacks: callbacks}
		if err := deployService(ctx, cfg, cluster, plat, s, deps, on, in); err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	return ctx.RegisterResourceOutputs(group, pulumi.Map{})
}

type servicesGroup struct {
	pulumi.ResourceState
}

type serviceDeps struct {
	pg        *postgres.Postgres
	events    *kafka.Kafka
	cache     *redis.Redis
	signing   *tls.PrivateKey
	callbacks pulumi.StringOutput // the callback signing key, a secret; set when a service needs it
	// operator is the platform operator's generated password (nil without identity).
	operator *random.RandomPassword
}

// Secrets Groundwork generates for the services that list them in service.yaml's secrets.
const (
	secretJWTSigningKey      = services.SecretJWTSigningKey
	secretCallbackSigningKey = services.SecretCallbackSigningKey
)

// callbackKey generates the stack's callback signing key when a service needs it: the shared
// secret with which the payment gateway and the delivery provider sign their callbacks
// (services/chassis/callback.go). It is a Pulumi secret end to end and a stack output, also
// secret (callbackSigningKey), for configuring those senders:
// `pulumi stack output callbackSigningKey --show-secrets`.
func callbackKey(ctx *pulumi.Context, specs []services.Spec, opts ...pulumi.ResourceOption) (pulumi.StringOutput, error) {
	needed := false
	for _, s := range specs {
		needed = needed || slices.Contains(s.Secrets, secretCallbackSigningKey)
	}
	if !needed {
		return pulumi.StringOutput{}, nil
	}
	// 64 alphanumerics: about 380 bits, above the 256 of HMAC-SHA256's output (RFC 2104 §3).
	key, err := random.NewRandomPassword(ctx, "callback-signing", &random.RandomPasswordArgs{
		Length: pulumi.Int(64), Special: pulumi.Bool(false),
	}, opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	secret := pulumi.ToSecret(key.Result).(pulumi.StringOutput)
	ctx.Export("callbackSigningKey", secret)
	return secret, nil
}

// jwtTrust gives the identity service its ES256 signing key, a generated secret, and makes Kong
// trust the tokens it signs: a consumer whose JWT credential is the key's public half.
func jwtTrust(ctx *pulumi.Context, specs []services.Spec, plat *Platform, tags infra.Tags, opts ...pulumi.ResourceOption) (*tls.PrivateKey, error) {
	needed := false
	for _, s := range specs {
		for _, r := range s.Routes {
			needed = needed || r.Auth == "jwt"
		}
		for _, sec := range s.Secrets {
			needed = needed || sec == secretJWTSigningKey
		}
	}
	if !needed {
		return nil, nil
	}
	key, err := tls.NewPrivateKey(ctx, "jwt-signing", &tls.PrivateKeyArgs{Algorithm: pulumi.String("ECDSA"), EcdsaCurve: pulumi.String("P256")}, opts...)
	if err != nil {
		return nil, err
	}
	labels := infra.WithLabels(tags.LabelMap("kong"), map[string]string{"konghq.com/credential": "jwt"})
	cred, err := corev1.NewSecret(ctx, "jwt-consumer-credential", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("identity-jwt"), Namespace: pulumi.String(NamespaceKong), Labels: labels},
		StringData: pulumi.StringMap{
			// Keyed by the key's kid, which the jwt plugin reads from the token's header when the
			// payload has no such claim (key_claim_name, Kong PR #3313): one credential per
			// signing key, so a rotated key is one more credential, not a replaced one.
			"key":            key.PublicKeyPem.ApplyT(keyID).(pulumi.StringOutput),
			"algorithm":      pulumi.String("ES256"),
			"rsa_public_key": key.PublicKeyPem,
		},
	}, append(opts, chart.DependsOn(plat.namespaces))...)
	if err != nil {
		return nil, err
	}
	_, err = apiextensions.NewCustomResource(ctx, "jwt-consumer", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("configuration.konghq.com/v1"),
		Kind:       pulumi.String("KongConsumer"),
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String("identity"), Namespace: pulumi.String(NamespaceKong),
			Labels:      pulumi.ToStringMap(tags.LabelMap("kong")),
			Annotations: pulumi.StringMap{"kubernetes.io/ingress.class": pulumi.String(kong.IngressClass)},
		},
		OtherFields: map[string]any{"username": "identity-tokens", "credentials": []string{"identity-jwt"}},
	}, append(opts, chart.DependsOn([]pulumi.Resource{cred}), chart.DependsOn(plat.Kong.Ready()))...)
	return key, err
}

// kongToRedis lets Kong's pods reach the Redis port of the data namespace, for cluster-wide
// rate limits.
func kongToRedis(ctx *pulumi.Context, tags infra.Tags, opts ...pulumi.ResourceOption) error {
	_, err := networkingv1.NewNetworkPolicy(ctx, "data-allow-kong-redis", &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("allow-kong-redis"), Namespace: pulumi.String(NamespaceData), Labels: pulumi.ToStringMap(tags.LabelMap("kong"))},
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{&networkingv1.NetworkPolicyIngressRuleArgs{
				From: networkingv1.NetworkPolicyPeerArray{&networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: &metav1.LabelSelectorArgs{
					MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(NamespaceKong)}}}},
				Ports: networkingv1.NetworkPolicyPortArray{&networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(redis.Port)}},
			}},
		},
	}, opts...)
	return err
}

func deployService(ctx *pulumi.Context, cfg *Config, cluster infra.Cluster, plat *Platform, s services.Spec, deps serviceDeps, on, parent pulumi.ResourceOption) error {
	tags := tagsOf(ctx, cfg)
	img, err := serviceImage(ctx, cfg, cluster, s, parent)
	if err != nil {
		return err
	}
	env := map[string]string{
		"PORT": fmt.Sprint(s.Port), "METRICS_PORT": fmt.Sprint(s.MetricsPort),
		"LOG_LEVEL": "info", "SERVICE_NAME": s.Name,
		// The service's own deadline, below the mesh's timeout so that it answers (503) first.
		"REQUEST_TIMEOUT":             (s.Timeout * 4 / 5).String(),
		"OTEL_EXPORTER_OTLP_ENDPOINT": fmt.Sprintf("http://%s:%d", plat.Observability.TracingHost, plat.Observability.TracingPort),
	}
	var secretEnv []microservice.SecretEnv
	var egress []microservice.Peer
	after := append([]pulumi.Resource{deps.events, deps.cache}, plat.ready()...)
	if s.Database != nil {
		ep, ok := deps.pg.Endpoints[s.Name]
		if !ok {
			return fmt.Errorf("no database was made for it")
		}
		secretEnv = append(secretEnv, microservice.SecretEnv{Name: "DATABASE_URL", Secret: ep.SecretName, Key: database.KeyURI})
		egress = append(egress, dataPeer(cfg, cluster, NamespaceData, postgres.Port))
		after = append(after, deps.pg)
	}
	if c, ok := deps.events.Clients[s.Name]; ok {
		keys := map[string]string{
			"KAFKA_BROKERS": kafka.KeyBootstrapServers, "KAFKA_SECURITY_PROTOCOL": kafka.KeySecurityProtocol,
			"KAFKA_SASL_MECHANISM": kafka.KeySASLMechanism, "KAFKA_USERNAME": kafka.KeyUsername, "KAFKA_PASSWORD": kafka.KeyPassword,
		}
		if !cfg.managedData() {
			// In the cluster, Strimzi's brokers present a certificate of the platform's own CA;
			// MSK's are signed by a public CA the image already trusts.
			keys["KAFKA_CA_CERT"] = kafka.KeyCACert
		}
		for _, envName := range sortedKeys(keys) {
			secretEnv = append(secretEnv, microservice.SecretEnv{Name: envName, Secret: pulumi.String(c.SecretName), Key: keys[envName]})
		}
		egress = append(egress, dataPeer(cfg, cluster, NamespaceKafka, 9093, 9096))
	}
	secretEnv = append(secretEnv, microservice.SecretEnv{Name: "REDIS_URL", Secret: pulumi.String(redis.SecretName), Key: database.KeyURI})
	egress = append(egress, dataPeer(cfg, cluster, NamespaceData, 6379))
	// The sidecar's spans go to whichever trace store the stack runs (Tempo's distributors or Jaeger).
	egress = append(egress, microservice.Peer{Namespace: NamespaceMonitoring, PodLabels: plat.Observability.TracingPodLabels, Ports: []int{observability.OTLPGRPCPort, observability.OTLPHTTPPort}})
	for _, d := range s.DependsOn {
		for _, o := range plat.specs {
			if o.Name == d {
				egress = append(egress, microservice.Peer{Namespace: NamespaceServices, PodLabels: map[string]string{"app.kubernetes.io/name": d}, Ports: []int{o.Port}})
			}
		}
	}
	// Every service verifies access tokens itself with the keys of identity's JWKS
	// (services/chassis/auth.go), so every service reaches identity.
	env["JWT_ISSUER"] = jwtIssuer
	if id, ok := identitySpec(plat.specs); ok && s.Name != id.Name {
		env["JWKS_URL"] = fmt.Sprintf("http://%s.%s.svc.cluster.local:%d/.well-known/jwks.json", id.Name, NamespaceServices, id.Port)
		if !slices.Contains(s.DependsOn, id.Name) {
			egress = append(egress, microservice.Peer{Namespace: NamespaceServices, PodLabels: map[string]string{"app.kubernetes.io/name": id.Name}, Ports: []int{id.Port}})
		}
	}
	for _, name := range s.Secrets {
		var suffix string
		var value pulumi.StringInput
		switch name {
		case secretJWTSigningKey:
			suffix, value = "jwt", deps.signing.PrivateKeyPemPkcs8
		case secretCallbackSigningKey:
			suffix, value = "callback", deps.callbacks
		default:
			return fmt.Errorf("secret %s: Groundwork generates %s and %s only; provide others through the service's own configuration",
				name, secretJWTSigningKey, secretCallbackSigningKey)
		}
		sec, err := corev1.NewSecret(ctx, "svc-"+s.Name+"-"+suffix, &corev1.SecretArgs{
			Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(s.Name + "-" + suffix), Namespace: pulumi.String(NamespaceServices), Labels: pulumi.ToStringMap(tags.LabelMap("services"))},
			StringData: pulumi.StringMap{"signing-key": value},
		}, on, parent, chart.DependsOn(plat.namespaces))
		if err != nil {
			return err
		}
		secretEnv = append(secretEnv, microservice.SecretEnv{Name: name, Secret: sec.Metadata.Name().Elem(), Key: "signing-key"})
	}
	if s.Name == identityService && deps.operator != nil {
		// The platform operator's login (tenant "platform"): the only way to provision tenants.
		sec, err := corev1.NewSecret(ctx, "svc-"+s.Name+"-operator", &corev1.SecretArgs{
			Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(s.Name + "-operator"), Namespace: pulumi.String(NamespaceServices), Labels: pulumi.ToStringMap(tags.LabelMap("services"))},
			StringData: pulumi.StringMap{"password": deps.operator.Result},
		}, on, parent, chart.DependsOn(plat.namespaces))
		if err != nil {
			return err
		}
		env["PLATFORM_OPERATOR_EMAIL"] = OperatorEmail
		secretEnv = append(secretEnv, microservice.SecretEnv{Name: "PLATFORM_OPERATOR_PASSWORD", Secret: sec.Metadata.Name().Elem(), Key: "password"})
	}

	scale := s.ScaleFor(cfg.Environment)
	// Rate limits count per Kong pod in dev; in prod across every pod, in the shared Redis.
	limit := kong.RateLimiting{Policy: "local"}
	if cfg.Environment == EnvProd {
		ep := deps.cache.Endpoints[NamespaceServices]
		limit.Policy = "redis"
		limit.Redis = &kong.RedisBackend{Host: ep.Host, Port: redis.Port, SSL: cfg.managedData(),
			PasswordSecret: redis.SecretName, PasswordKey: database.KeyPassword}
	}
	var routes []microservice.Route
	for _, r := range s.Routes {
		rl := limit
		rl.Second, rl.Minute, rl.Hour = r.RateLimit.Second, r.RateLimit.Minute, r.RateLimit.Hour
		plugins := []kong.Plugin{}
		if r.Auth == "jwt" {
			// Counted per tenant: the TenantKey global plugin sets the header from the token's
			// tenant claim, which the jwt plugin verifies before rate-limiting counts.
			rl.LimitBy, rl.HeaderName = "header", TenantHeader
			plugins = append(plugins, kong.JWT{ClaimsToVerify: []string{"exp", "nbf"}, KeyClaimName: "kid"})
		}
		routes = append(routes, microservice.Route{Paths: r.Paths, Plugins: append([]kong.Plugin{rl}, plugins...)})
	}
	var callers []string
	for _, o := range plat.specs {
		// identity is called by every service, for its JWKS.
		if o.Name != s.Name && (s.Name == identityService || slices.Contains(o.DependsOn, s.Name)) {
			callers = append(callers, o.Name)
		}
	}
	args := microservice.Args{
		Name: s.Name, Namespace: NamespaceServices, Image: img.Ref,
		Port: s.Port, MetricsPort: s.MetricsPort,
		Scale:     microservice.Scale{Min: scale.Min, Max: scale.Max},
		CPUTarget: s.Autoscaling.CPUTarget, MemoryTarget: s.Autoscaling.MemoryTarget,
		Resources: microservice.Resources{RequestCPU: s.Resources.RequestCPU, RequestMemory: s.Resources.RequestMemory, LimitCPU: s.Resources.LimitCPU, LimitMemory: s.Resources.LimitMemory},
		Env:       env, SecretEnv: secretEnv, Zones: cluster.Zones(),
		GatewayNamespace: NamespaceKong, MonitoringNamespace: NamespaceMonitoring,
		Callers: callers, Egress: egress, Routes: routes, Kong: plat.Kong,
		Timeout: strconv.FormatFloat(s.Timeout.Seconds(), 'f', -1, 64) + "s", Retries: s.Retries,
		SLO:        s.SLO,
		Outbox:     s.Database != nil && len(s.Topics.Produces) > 0,
		Consumers:  len(s.Topics.Consumes) > 0,
		Database:   s.Database != nil,
		RunbookURL: cfg.Alerting.RunbookURL,
		Labels:     tags.LabelMap("services"),
		After:      after,
	}
	if cn := cfg.Services[s.Name].Canary; cn != nil {
		canary, err := image.Prebuilt(cluster.Registry().Repositories[s.Name], cn.Version)
		if err != nil {
			return fmt.Errorf("%s:services.%s.canary.version: %w", Namespace, s.Name, err)
		}
		args.Canary = &microservice.Canary{Image: canary.Ref, Weight: *cn.Weight}
	}
	_, err = microservice.New(ctx, "svc-"+s.Name, args, on, parent)
	return err
}

// dataPeer is where a service reaches a data store: its namespace in the cluster, or the
// network's range where the stores are managed by the cloud.
func dataPeer(cfg *Config, cluster infra.Cluster, namespace string, ports ...int) microservice.Peer {
	if cfg.managedData() && cluster.Network() != nil {
		return microservice.Peer{CIDR: cluster.Network().CIDR, Ports: ports}
	}
	return microservice.Peer{Namespace: namespace, Ports: ports}
}

// serviceImage builds the service's image from its folder, or refers to the version CI built.
func serviceImage(ctx *pulumi.Context, cfg *Config, cluster infra.Cluster, s services.Spec, opts ...pulumi.ResourceOption) (*image.Image, error) {
	reg := cluster.Registry()
	repo, ok := reg.Repositories[s.Name]
	if !ok {
		return nil, fmt.Errorf("the registry has no repository for it")
	}
	if v := cfg.Images.Versions[s.Name]; v != "" {
		return image.Prebuilt(repo, v)
	}
	if cfg.Images.Version != "" {
		return image.Prebuilt(repo, cfg.Images.Version)
	}
	if rel, err := filepath.Rel(".", s.Dir); err != nil || filepath.IsAbs(s.Dir) || strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("its folder %s is outside the project, the images' build context; deploy prebuilt images with %s:images.version instead", s.Dir, Namespace)
	}
	dockerfile, sources := imageSources(s)
	if _, err := os.Stat(dockerfile); err != nil {
		return nil, fmt.Errorf("no %s: one Dockerfile beside the services builds each of them (build argument SERVICE)", dockerfile)
	}
	args := image.BuildArgs{
		Root:       ".",
		Dockerfile: dockerfile,
		Args:       map[string]string{"SERVICE": s.Name},
		Sources:    sources,
		Repository: repo,
		Platform:   buildPlatform,
	}
	if l := reg.Login; l != nil {
		args.Auth = &image.Auth{Server: l.Server, Username: l.Username, Password: l.Password}
	}
	return image.Build(ctx, "image-"+s.Name, args, opts...)
}

// imageSources are the Dockerfile that builds every service (beside their folders) and the
// paths a service's image is built from, relative to the project root; its content tag is
// their hash.
func imageSources(s services.Spec) (dockerfile string, sources []string) {
	dockerfile = filepath.Join(filepath.Dir(s.Dir), "Dockerfile")
	sources = []string{"go.mod", "go.sum", dockerfile, s.Dir}
	// The shared chassis is built into every service that sits beside it.
	if chassis := filepath.Join(filepath.Dir(s.Dir), "chassis"); isDir(chassis) {
		sources = append(sources, chassis)
	}
	return dockerfile, sources
}

// ImageTag is a service's content tag, the tag the program builds its image under.
type ImageTag struct {
	Service string `json:"service"`
	Tag     string `json:"tag"`
}

// ImageTags are the content tags of every service in dir, in dependency order: CI builds the
// images under these tags and deploys them with groundwork:images.versions, so a preview and
// an update agree with it on what each image is.
func ImageTags(dir string) ([]ImageTag, error) {
	specs, err := services.Load(dir)
	if err != nil {
		return nil, err
	}
	out := make([]ImageTag, 0, len(specs))
	for _, s := range specs {
		_, sources := imageSources(s)
		tag, err := image.ContentTag(".", sources)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", s.Name, err)
		}
		out = append(out, ImageTag{Service: s.Name, Tag: tag})
	}
	return out, nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
