package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/groundwork/groundwork/infra"
)

// Namespace is the config namespace of every Groundwork setting: the Pulumi project name.
const Namespace = "groundwork"

// Clouds Groundwork builds on, the values of groundwork:cloud.
const (
	CloudAWS       = "aws"
	CloudOpenStack = "openstack"
	CloudExisting  = "existing"
)

// Environments, the values of groundwork:environment. Prod is held to high availability.
const (
	EnvDev     = "dev"
	EnvStaging = "staging"
	EnvProd    = "prod"
)

// Config is the typed stack configuration: every groundwork:* key, with defaults applied.
type Config struct {
	// Stack is the Pulumi stack name (not a config key).
	Stack string `json:"-"`
	// AWSRegion is aws:region, the region the default AWS provider deploys to.
	AWSRegion string `json:"-"`
	// AWSProfile is aws:profile and AWSAssumeRole aws:assumeRole: the identity the AWS provider
	// deploys as, which the kubeconfig's token must name too.
	AWSProfile    string         `json:"-"`
	AWSAssumeRole *AWSAssumeRole `json:"-"`
	// Kubeconfig is groundwork:kubeconfig, a secret, for cloud existing. Never logged.
	Kubeconfig string `json:"-"`

	Cloud       string `json:"cloud"`
	Environment string `json:"environment"`
	Owner       string `json:"owner"`
	// ClusterName defaults to "<project>-<stack>".
	ClusterName string `json:"clusterName"`
	// ServicesDir is the folder holding one sub-folder per domain service.
	ServicesDir string `json:"servicesDir"`

	Kubernetes KubernetesConfig  `json:"kubernetes"`
	Network    NetworkConfig     `json:"network"`
	NodeGroups []NodeGroupConfig `json:"nodeGroups"`
	AWS        AWSConfig         `json:"aws"`
	OpenStack  OpenStackConfig   `json:"openstack"`
	Existing   ExistingConfig    `json:"existing"`
	Registry   RegistryConfig    `json:"registry"`
	Charts     ChartsConfig      `json:"charts"`
	Images     ImagesConfig      `json:"images"`
	Data       DataConfig        `json:"data"`
	// Observability is groundwork:observability.
	Observability ObservabilityConfig `json:"observability"`
	// Services is groundwork:services: per-service settings (a canary), by service name.
	Services map[string]ServiceConfig `json:"services"`
	// Alerting is groundwork:alerting: receivers, routes and the runbooks alerts link to.
	Alerting AlertingConfig `json:"alerting"`
	// Edge is groundwork:edge: the public domain and how the gateway gets its certificate.
	Edge EdgeConfig `json:"edge"`
}

// KubernetesConfig is groundwork:kubernetes.
type KubernetesConfig struct {
	// Version is the full Kubernetes version, e.g. "1.33.4": EKS takes its minor; on
	// OpenStack the node image's kube_version property must be it.
	Version string `json:"version"`
	// ServiceCIDR is the range of ClusterIP Services; it must not overlap the network.
	ServiceCIDR string `json:"serviceCidr"`
	// PodCIDR is refused when set: no cloud takes a pod range (Magnum's Cluster API driver gives
	// pods its chart's range, the VPC CNI VPC addresses, an existing cluster its own). Kept so
	// that a stack that still sets it gets that reason rather than "unknown field".
	PodCIDR string `json:"podCidr"`
	// RenderTo, when set, writes every Kubernetes object as YAML into this folder instead of
	// applying it (review in a PR, hand to Argo CD or Flux).
	RenderTo string `json:"renderTo"`
}

// ChartsConfig is groundwork:charts.
type ChartsConfig struct {
	// Source is "remote" (the official repositories), "dir:<path>" (a folder of charts named
	// <chart>-<version>, as folders or .tgz) or "oci://<registry>/<path>" (a mirror).
	Source string `json:"source"`
}

// ImagesConfig is groundwork:images.
type ImagesConfig struct {
	// RegistryMirror is a registry host and path that mirrors every platform image, so an
	// air-gapped cluster pulls nothing from the internet.
	RegistryMirror string `json:"registryMirror"`
	// Version deploys images CI built, by tag or sha256 digest, for every service; without it
	// the program builds each service's image from its folder.
	Version string `json:"version"`
	// Versions pin single services' images, by tag or digest; they win over Version.
	Versions map[string]string `json:"versions"`
}

// ObservabilityConfig is groundwork:observability.
type ObservabilityConfig struct {
	// Logs aggregates every pod's logs in Loki, searchable from Grafana; default on in prod,
	// off elsewhere.
	Logs *bool `json:"logs"`
	// LogRetentionDays is how long logs are kept; default 7, 30 in prod.
	LogRetentionDays int `json:"logRetentionDays"`
}

// DataConfig is groundwork:data.
type DataConfig struct {
	// Managed runs PostgreSQL on RDS, Kafka on MSK and the cache on ElastiCache on aws. Other
	// clouds have no managed equivalents and always run them in the cluster (CloudNativePG,
	// Strimzi, Redis), so a stack keeps the setting when it switches clouds.
	Managed bool `json:"managed"`
	// RDS, ElastiCache and MSK size the managed stores (aws with managed: true).
	RDS         RDSConfig         `json:"rds"`
	ElastiCache ElastiCacheConfig `json:"elastiCache"`
	MSK         MSKConfig         `json:"msk"`
}

// RDSConfig is groundwork:data.rds.
type RDSConfig struct {
	// InstanceClass of every database instance; default db.t4g.micro, db.m7g.large in prod.
	InstanceClass string `json:"instanceClass"`
	// AllocatedStorage is each instance's initial storage in GiB; default 20, 100 in prod.
	AllocatedStorage int `json:"allocatedStorage"`
}

// ElastiCacheConfig is groundwork:data.elastiCache.
type ElastiCacheConfig struct {
	// NodeType of the cache nodes; default cache.t4g.micro, cache.m7g.large in prod.
	NodeType string `json:"nodeType"`
}

// MSKConfig is groundwork:data.msk.
type MSKConfig struct {
	// InstanceType of the brokers; default kafka.t3.small, kafka.m7g.large in prod.
	InstanceType string `json:"instanceType"`
	// Brokers is the broker count, a multiple of the client subnets (2 or 3); default one per
	// client subnet, and in prod at least 3.
	Brokers int `json:"brokers"`
	// VolumeSize is each broker's storage in GiB; default 20, 1000 in prod.
	VolumeSize int `json:"volumeSize"`
}

// AWSAssumeRole is the part of aws:assumeRole Groundwork reads.
type AWSAssumeRole struct {
	RoleARN    string `json:"roleArn"`
	ExternalID string `json:"externalId"`
}

// NetworkConfig is groundwork:network.
type NetworkConfig struct {
	// CIDR is the address space of the stack: the VPC on AWS; the three OpenStack networks
	// are carved from it unless given.
	CIDR string `json:"cidr"`
}

// NodeGroupConfig is one entry of groundwork:nodeGroups.
type NodeGroupConfig struct {
	Name          string            `json:"name"`
	MinSize       *int              `json:"minSize"`
	DesiredSize   *int              `json:"desiredSize"`
	MaxSize       *int              `json:"maxSize"`
	InstanceTypes []string          `json:"instanceTypes"`
	CapacityType  string            `json:"capacityType"`
	Flavor        string            `json:"flavor"`
	DiskSize      int               `json:"diskSize"`
	Labels        map[string]string `json:"labels"`
	Taints        []infra.Taint     `json:"taints"`
}

// AWSConfig is groundwork:aws, read when groundwork:cloud is aws.
type AWSConfig struct {
	// ZoneCount is how many availability zones of the region the stack spans.
	ZoneCount int `json:"zoneCount"`
	// NatGateways is "perZone" (one NAT gateway per zone, HA) or "single" (cheaper).
	NatGateways string `json:"natGateways"`
	// PublicSubnets and PrivateSubnets are CIDRs, one per zone; carved from network.cidr
	// when empty.
	PublicSubnets  []string `json:"publicSubnets"`
	PrivateSubnets []string `json:"privateSubnets"`
	// PublicAccessCIDRs may reach the EKS API from the internet; empty turns the public
	// endpoint off (the private endpoint is always on).
	PublicAccessCIDRs []string `json:"publicAccessCidrs"`
	// PrivateAccessCIDRs are networks connected to the VPC (VPN, peering, Transit Gateway) whose
	// hosts reach the private endpoint; the deploy host runs in one of them or in the VPC.
	PrivateAccessCIDRs []string `json:"privateAccessCidrs"`
	// ControlPlaneLogs are the control-plane log types kept in CloudWatch; default audit and
	// authenticator. An empty list turns them off.
	ControlPlaneLogs []string `json:"controlPlaneLogs"`
	// UpgradePolicy is EXTENDED (default: the cluster stays on its version until the stack
	// upgrades it) or STANDARD (AWS upgrades it when standard support ends).
	UpgradePolicy string `json:"upgradePolicy"`
	// AdminRoleARNs are IAM roles granted cluster-admin through EKS access entries.
	AdminRoleARNs []string `json:"adminRoleArns"`
	// KMSDeletionWindowDays is the waiting period before the secrets key is deleted.
	KMSDeletionWindowDays int `json:"kmsDeletionWindowDays"`
	// LogRetentionDays is how long control-plane logs are kept in CloudWatch.
	LogRetentionDays int `json:"logRetentionDays"`
	// AddonVersions pins EKS add-on versions by add-on name; an add-on not named runs the
	// default version EKS pairs with the cluster's Kubernetes version.
	AddonVersions map[string]string `json:"addonVersions"`
}

// OpenStackConfig is groundwork:openstack, read when groundwork:cloud is openstack. The cluster
// comes from Magnum's Cluster API Helm driver (infra/openstack.Driver).
type OpenStackConfig struct {
	// ExternalNetwork is the name of the provider network routers and floating IPs use.
	ExternalNetwork string `json:"externalNetwork"`
	// AvailabilityZones are the Nova zones the nodes run in, as the cloud schedules them (the
	// driver pins no node group to a zone).
	AvailabilityZones []string `json:"availabilityZones"`
	DNSServers        []string `json:"dnsServers"`
	// Image is the Glance image name of the nodes: os_distro ubuntu or flatcar, and kube_version
	// the Kubernetes version (checked when it is looked up, before anything is created).
	Image        string `json:"image"`
	MasterFlavor string `json:"masterFlavor"`
	// NodeFlavor is the default flavor of node groups that name none.
	NodeFlavor string `json:"nodeFlavor"`
	// MasterCount is the number of control-plane nodes: 1, 3 or 5.
	MasterCount int `json:"masterCount"`
	// APIAccess is how the deploy host reaches the Kubernetes API behind its load balancer:
	// "floatingIp" (a floating IP admitting only apiAllowedCidrs) or "internal" (no floating IP:
	// the deploy host runs on the stack's networks, e.g. a runner VM on the management network).
	APIAccess string `json:"apiAccess"`
	// RouterHA declares that the cloud makes project routers highly available (Neutron's
	// l3_ha); Groundwork cannot ask for it, as the router's ha attribute is admin-only.
	RouterHA      bool   `json:"routerHA"`
	Keypair       string `json:"keypair"`
	NetworkDriver string `json:"networkDriver"`
	// Networks are the CIDRs of the three logical networks; carved from network.cidr when
	// empty.
	Networks OpenStackNetworks `json:"networks"`
	// APIAllowedCIDRs may reach the Kubernetes API through its floating IP: the deploy host's,
	// the operators' and the Magnum Cluster API management cluster's ranges.
	APIAllowedCIDRs []string `json:"apiAllowedCidrs"`
	// Labels are extra Magnum cluster-template labels; they override Groundwork's.
	Labels map[string]string `json:"labels"`
	// S3Endpoint is the URL of the cloud's S3-compatible object storage (Swift's s3api). With
	// it, in-cluster databases back up to a container made for them; prod requires it.
	S3Endpoint string `json:"s3Endpoint"`
}

// OpenStackNetworks are the three logical networks of the seed brief.
type OpenStackNetworks struct {
	API        string `json:"api"`
	Management string `json:"management"`
	Internal   string `json:"internal"`
}

// ExistingConfig is groundwork:existing, read when groundwork:cloud is existing.
type ExistingConfig struct {
	// KubeconfigPath is a kubeconfig file; the alternative is the secret groundwork:kubeconfig.
	KubeconfigPath string `json:"kubeconfigPath"`
	// Context is the kubeconfig context to use; empty uses the current context.
	Context string `json:"context"`
	// StorageClass is the name of the cluster's default StorageClass.
	StorageClass string `json:"storageClass"`
	// Zones are the zones the cluster's nodes carry in topology.kubernetes.io/zone.
	Zones []string `json:"zones"`
	// LoadBalancerAnnotations are added to the gateway's LoadBalancer Service.
	LoadBalancerAnnotations map[string]string `json:"loadBalancerAnnotations"`
	// NodeCIDRs are the address ranges of the cluster's nodes: the platform namespaces' egress
	// policies open them, as they open the network's CIDR on the clouds Groundwork builds.
	NodeCIDRs []string `json:"nodeCidrs"`
	// ObjectStorage is S3-compatible storage with buckets made for the platform. Optional in
	// dev; prod keeps traces (and logs) in it.
	ObjectStorage *ObjectStorageConfig `json:"objectStorage"`
}

// ObjectStorageConfig is groundwork:existing.objectStorage: S3-compatible storage Groundwork
// does not create (MinIO, Ceph RGW, a cloud's S3).
type ObjectStorageConfig struct {
	// Endpoint is the S3 API's URL, e.g. "https://minio.example.com".
	Endpoint string `json:"endpoint"`
	// Region requests are signed for; default us-east-1.
	Region string `json:"region"`
	// PathStyle addresses buckets in the URL's path; default true, what most S3-compatible
	// stores need.
	PathStyle *bool `json:"pathStyle"`
	// AccessKeyID and SecretAccessKey (a secret: pulumi config set --secret --path
	// groundwork:existing.objectStorage.secretAccessKey) sign requests.
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	// Buckets names the bucket made for each purpose: traces; logs when
	// groundwork:observability.logs is on; backups for the in-cluster databases.
	Buckets map[string]string `json:"buckets"`
}

// RegistryConfig is groundwork:registry: the registry images are pushed to where the cloud
// has none of its own (OpenStack, existing).
type RegistryConfig struct {
	// Server is the registry host and path prefix without a scheme, e.g.
	// "registry.example.com/groundwork".
	Server string `json:"server"`
	// Username and Password log in to push images. Optional; Password must be set as a secret
	// (pulumi config set --secret --path groundwork:registry.password).
	Username string `json:"username"`
	Password string `json:"password"`
}

// Keys of the top-level settings. Each object key is read into the Config field whose json tag
// is the part after "groundwork:".
var keys = func() []string {
	var out []string
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if tag := jsonName(t.Field(i)); tag != "" {
			out = append(out, tag)
		}
	}
	return append(out, "kubeconfig")
}()

// Source is where configuration comes from: a lookup of full keys ("groundwork:cloud") and the
// list of every key the stack sets, to catch typos.
type Source struct {
	Stack    string
	Get      func(key string) (string, bool)
	IsSecret func(key string) bool
	// Keys lists every config key of the stack; nil skips the unknown-key check.
	Keys []string
}

// Parse reads, defaults and validates the stack configuration. It returns every problem at once,
// each naming the full key, the value and what is allowed.
func Parse(src Source) (*Config, error) {
	cfg := &Config{Stack: src.Stack}
	var errs []error
	errs = append(errs, unknownKeys(src.Keys)...)

	t := reflect.TypeFor[Config]()
	v := reflect.ValueOf(cfg).Elem()
	for i := range t.NumField() {
		name := jsonName(t.Field(i))
		if name == "" {
			continue
		}
		raw, ok := src.Get(Namespace + ":" + name)
		if !ok {
			continue
		}
		key := Namespace + ":" + name
		secret := src.IsSecret != nil && src.IsSecret(key)
		if err := decodeValue(key, raw, secret, v.Field(i)); err != nil {
			errs = append(errs, err)
		}
	}
	cfg.AWSRegion, _ = src.Get("aws:region")
	cfg.AWSProfile, _ = src.Get("aws:profile")
	if raw, ok := src.Get("aws:assumeRole"); ok && raw != "" {
		var role AWSAssumeRole
		if err := json.Unmarshal([]byte(raw), &role); err != nil {
			errs = append(errs, fmt.Errorf("aws:assumeRole: %q is not an object with roleArn: %v", truncate(raw, 80), err))
		} else {
			cfg.AWSAssumeRole = &role
		}
	}

	const kubeconfigKey = Namespace + ":kubeconfig"
	if kc, ok := src.Get(kubeconfigKey); ok && kc != "" {
		if src.IsSecret != nil && !src.IsSecret(kubeconfigKey) {
			errs = append(errs, fmt.Errorf("%s: is stored in plain text; set it with `pulumi config set --secret %s < kubeconfig`", kubeconfigKey, kubeconfigKey))
		}
		cfg.Kubeconfig = kc
	}
	const existingKey = Namespace + ":existing"
	if o := cfg.Existing.ObjectStorage; o != nil && o.SecretAccessKey != "" && src.IsSecret != nil && !src.IsSecret(existingKey) {
		errs = append(errs, fmt.Errorf("%s.objectStorage.secretAccessKey: is stored in plain text; set it with `pulumi config set --secret --path %s.objectStorage.secretAccessKey`", existingKey, existingKey))
	}
	const registryKey = Namespace + ":registry"
	if cfg.Registry.Password != "" && src.IsSecret != nil && !src.IsSecret(registryKey) {
		errs = append(errs, fmt.Errorf("%s.password: is stored in plain text; set it with `pulumi config set --secret --path %s.password`", registryKey, registryKey))
	}
	const alertingKey = Namespace + ":alerting"
	if cfg.Alerting.hasSecrets() && src.IsSecret != nil && !src.IsSecret(alertingKey) {
		errs = append(errs, fmt.Errorf("%s: holds receiver URLs, keys or passwords in plain text; set them with `pulumi config set --secret --path '%s.receivers[0].slack.url' ...`", alertingKey, alertingKey))
	}
	const edgeKey = Namespace + ":edge"
	if cfg.Edge.hasSecrets() && src.IsSecret != nil && !src.IsSecret(edgeKey) {
		errs = append(errs, fmt.Errorf("%s.tls: holds a private key or an API token in plain text; set it with `pulumi config set --secret --path '%s.tls.privateKey' < key.pem` "+
			"(or '%s.tls.dns01.cloudflare.apiToken')", edgeKey, edgeKey, edgeKey))
	}
	if len(errs) > 0 {
		// A value that did not decode would only produce confusing follow-up errors.
		return nil, errors.Join(errs...)
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeValue decodes one config value into a field: strings as they are, everything else as
// JSON, rejecting unknown fields so that a typo is an error rather than a silent default. The
// errors of a secret value (set with --secret) never quote it: they end up in CI logs.
func decodeValue(key, raw string, secret bool, field reflect.Value) error {
	if field.Kind() == reflect.String {
		field.SetString(raw)
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	target := reflect.New(field.Type())
	if err := dec.Decode(target.Interface()); err != nil {
		return describeDecodeError(key, raw, secret, field.Type(), err)
	}
	if dec.More() {
		return fmt.Errorf("%s: %s has trailing data after the value", key, shown(raw, secret))
	}
	field.Set(target.Elem())
	return nil
}

// shown is how an error quotes a config value: a secret's is never shown.
func shown(raw string, secret bool) string {
	if secret {
		return "the secret value (not shown)"
	}
	return strconv.Quote(truncate(raw, 80))
}

func describeDecodeError(key, raw string, secret bool, t reflect.Type, err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		at := key
		if typeErr.Field != "" {
			at += "." + typeErr.Field
		}
		return fmt.Errorf("%s: got a JSON %s, want %s", at, typeErr.Value, kindName(typeErr.Type))
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field := strings.Trim(msg, `"`)
		return fmt.Errorf("%s: unknown field %q%s; allowed: %s", key, field, suggest(field, fieldNames(t)), strings.Join(fieldNames(t), ", "))
	}
	if secret { // the JSON error quotes the character it stopped at
		return fmt.Errorf("%s: %s is not %s in JSON (set its fields one by one: `pulumi config set --secret --path %s.<field> <value>`)", key, shown(raw, secret), kindName(t), key)
	}
	return fmt.Errorf("%s: %s is not %s in JSON: %v", key, shown(raw, secret), kindName(t), err)
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return t.String()
}

// fieldNames lists the JSON field names of a struct (or of a list of structs) type.
func fieldNames(t reflect.Type) []string {
	for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		if n := jsonName(t.Field(i)); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// unknownKeys reports groundwork:* keys that Groundwork does not read.
func unknownKeys(all []string) []error {
	var errs []error
	for _, k := range all {
		rest, ok := strings.CutPrefix(k, Namespace+":")
		if !ok {
			continue
		}
		top, _, _ := strings.Cut(rest, ".")
		if !slices.Contains(keys, top) {
			errs = append(errs, fmt.Errorf("%s: unknown key%s; Groundwork reads: %s", k, suggest(top, keys), strings.Join(keys, ", ")))
		}
	}
	return errs
}

// suggest names the closest allowed word when it is a likely typo of got.
func suggest(got string, allowed []string) string {
	best, bestDist := "", 3
	for _, a := range allowed {
		if d := editDistance(strings.ToLower(got), strings.ToLower(a)); d < bestDist {
			best, bestDist = a, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Keys returns the top-level keys Groundwork reads, without the "groundwork:" namespace.
func Keys() []string { return slices.Clone(keys) }

// managedData reports whether the cloud runs the data stores (RDS, MSK, ElastiCache).
func (c *Config) managedData() bool { return c.Cloud == CloudAWS && c.Data.Managed }
