// Package tests runs Groundwork under Pulumi mocks: whole stacks from the real stack files, each
// layer, and the configuration loader.
package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
)

const (
	project   = "groundwork"
	accountID = "123456789012"
	// deployerSession is the identity the mocked AWS provider deploys as: a session of the role
	// deployerRole, which has a path.
	deployerSession = "arn:aws:sts::" + accountID + ":assumed-role/ci-deployer/session"
	deployerRole    = "arn:aws:iam::" + accountID + ":role/deploy/ci-deployer"
)

// TestMain runs the tests from the project root, as `pulumi up` runs the program.
func TestMain(m *testing.M) {
	if err := os.Chdir(".."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// Recorded is one resource the program registered.
type Recorded struct {
	URN      string
	Type     string
	Name     string
	Parent   string
	Provider string
	Custom   bool
	Inputs   resource.PropertyMap
	Outputs  resource.PropertyMap
	Deps     []string
	// DeleteBeforeReplace, IgnoreChanges and ReplaceOnChanges are the resource options the
	// program set (how a change replaces or spares it).
	DeleteBeforeReplace bool
	IgnoreChanges       []string
	ReplaceOnChanges    []string
}

// mocks answers the program's resource registrations and invokes the way the clouds would,
// with provider-computed outputs (IDs, ARNs, endpoints, a kubeconfig), and records every resource.
type mocks struct {
	stack  string
	region string
	// zones are the availability zones getAvailabilityZones answers with.
	zones []string

	// renderer renders the charts the program installs; nil leaves charts empty.
	renderer *renderer

	mu        sync.Mutex
	resources []Recorded
	invokes   []string
	// templates are the options of every helm template invoke, rendered the charts renderer made.
	templates []string
	rendered  []*Rendered
}

func newMocks(stack, region string) *mocks {
	return &mocks{stack: stack, region: region, zones: []string{region + "c", region + "a", region + "b"}}
}

// fakeID is a stable provider ID in a cloud's format: prefix plus hex derived from the name.
func fakeID(prefix, name string, n int) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + hex.EncodeToString(sum[:])[:n]
}

func uuid(name string) string {
	h := fakeID("", name, 32)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (m *mocks) arn(service, resourcePath string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, m.region, accountID, resourcePath)
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	out := args.Inputs.Copy()
	set := func(k string, v any) { out[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	name := args.Name
	str := func(k string) string {
		if v, ok := args.Inputs[resource.PropertyKey(k)]; ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	// Physical names: explicit where the program sets one, else Pulumi's auto-name.
	physical := str("name")
	if physical == "" {
		physical = name + "-" + fakeID("", name, 7)
	}
	id := uuid(name)

	switch args.TypeToken {
	case "aws:ec2/vpc:Vpc":
		id = fakeID("vpc-", name, 17)
		set("arn", m.arn("ec2", "vpc/"+id))
		set("defaultSecurityGroupId", fakeID("sg-", name+"default", 17))
		set("mainRouteTableId", fakeID("rtb-", name+"main", 17))
	case "aws:ec2/subnet:Subnet":
		id = fakeID("subnet-", name, 17)
		set("arn", m.arn("ec2", "subnet/"+id))
	case "aws:ec2/internetGateway:InternetGateway":
		id = fakeID("igw-", name, 17)
	case "aws:ec2/eip:Eip":
		id = fakeID("eipalloc-", name, 17)
		set("publicIp", "203.0.113."+fmt.Sprint(int(fakeID("", name, 2)[0])%200+10))
	case "aws:ec2/natGateway:NatGateway":
		id = fakeID("nat-", name, 17)
	case "aws:ec2/routeTable:RouteTable":
		id = fakeID("rtb-", name, 17)
	case "aws:ec2/routeTableAssociation:RouteTableAssociation":
		id = fakeID("rtbassoc-", name, 17)
	case "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup":
		id = fakeID("sg-", name, 17)
		set("arn", m.arn("ec2", "security-group/"+id))
	case "aws:ec2/launchTemplate:LaunchTemplate":
		id = fakeID("lt-", name, 17)
		set("latestVersion", 1)
	case "aws:kms/key:Key":
		set("keyId", id)
		set("arn", m.arn("kms", "key/"+id))
	case "aws:kms/alias:Alias":
		id = physical
	case "aws:cloudwatch/logGroup:LogGroup":
		id = physical
		set("arn", m.arn("logs", "log-group:"+physical))
	case "aws:iam/role:Role":
		id = physical
		set("name", physical)
		set("arn", fmt.Sprintf("arn:aws:iam::%s:role/%s", accountID, physical))
		set("uniqueId", fakeID("AROA", name, 17))
	case "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
		id = physical + "-20261122041600000000000001"
	case "aws:eks/cluster:Cluster":
		id = physical
		host := strings.ToUpper(fakeID("", name, 32))
		set("arn", m.arn("eks", "cluster/"+physical))
		set("endpoint", fmt.Sprintf("https://%s.gr7.%s.eks.amazonaws.com", host, m.region))
		set("certificateAuthority", map[string]any{"data": base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nMIIC/jCCAeagAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJl\n-----END CERTIFICATE-----\n"))})
		set("identities", []any{map[string]any{"oidcs": []any{map[string]any{"issuer": fmt.Sprintf("https://oidc.eks.%s.amazonaws.com/id/%s", m.region, host)}}}})
		set("status", "ACTIVE")
		set("platformVersion", "eks.7")
		vpc := out["vpcConfig"].ObjectValue().Copy()
		vpc["clusterSecurityGroupId"] = resource.NewStringProperty(fakeID("sg-", name+"cluster", 17))
		vpc["vpcId"] = resource.NewStringProperty(fakeID("vpc-", "vpc", 17))
		out["vpcConfig"] = resource.NewObjectProperty(vpc)
	case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
		url := strings.TrimPrefix(str("url"), "https://")
		id = fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s", accountID, url)
		set("arn", id)
	case "aws:eks/addon:Addon":
		addon := str("addonName")
		id = "cluster:" + addon
		if str("addonVersion") == "" {
			set("addonVersion", map[string]string{
				"vpc-cni": "v1.20.4-eksbuild.1", "kube-proxy": "v1.34.0-eksbuild.2",
				"coredns": "v1.12.3-eksbuild.1", "aws-ebs-csi-driver": "v1.48.0-eksbuild.2",
			}[addon])
		}
		set("arn", m.arn("eks", "addon/cluster/"+addon+"/"+uuid(name)))
	case "aws:eks/nodeGroup:NodeGroup":
		group := str("nodeGroupName")
		if p := str("nodeGroupNamePrefix"); p != "" {
			// AWS completes a name prefix with a 26-digit timestamp and counter.
			group = p + "20261122041600000000000001"
		}
		id = "cluster:" + group
		set("nodeGroupName", group)
		set("arn", m.arn("eks", "nodegroup/cluster/"+group+"/"+uuid(name)))
		set("status", "ACTIVE")
		set("releaseVersion", "1.34.0-20261101")
	case "aws:eks/accessEntry:AccessEntry", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation":
		id = "cluster#" + str("principalArn")
	case "aws:ecr/repository:Repository":
		id = physical
		set("arn", m.arn("ecr", "repository/"+physical))
		set("registryId", accountID)
		set("repositoryUrl", fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", accountID, m.region, physical))
	case "aws:ecr/lifecyclePolicy:LifecyclePolicy":
		id = physical
		set("registryId", accountID)
	case "aws:s3/bucketV2:BucketV2":
		// AWS completes a bucket_prefix with a 26-digit timestamp and counter.
		id = str("bucketPrefix") + "20261122074512345600000001"
		if b := str("bucket"); b != "" {
			id = b
		}
		set("bucket", id)
		set("arn", "arn:aws:s3:::"+id)
		set("bucketRegionalDomainName", id+".s3."+m.region+".amazonaws.com")
		set("region", m.region)
	case "openstack:networking/subnet:Subnet":
		if p, err := netip.ParsePrefix(str("cidr")); err == nil {
			set("gatewayIp", p.Addr().Next().String())
		}
	case "openstack:containerinfra/clusterTemplate:ClusterTemplate":
		// A template is replaced, not edited, so its UUID is new with its name.
		id = uuid(physical)
	case "openstack:containerinfra/cluster:Cluster":
		api := "https://203.0.113.40:6443"
		set("apiAddress", api)
		set("coeVersion", "v1.34.2")
		set("stackId", uuid(name+"heat"))
		set("masterAddresses", []any{"10.20.16.10"})
		set("kubeconfig", map[string]any{
			"host":                   api,
			"cluster_ca_certificate": "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n",
			"client_certificate":     "-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----\n",
			"client_key":             "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n",
			"raw_config":             magnumKubeconfig(physical, api),
		})
	case "random:index/randomPassword:RandomPassword":
		// A password of the requested length from the provider's default alphabet.
		n := 16
		if l := args.Inputs["length"]; l.IsNumber() {
			n = int(l.NumberValue())
		}
		pw := base64.RawURLEncoding.EncodeToString([]byte(fakeID("", name, 64)))
		pw = strings.NewReplacer("-", "x", "_", "Q").Replace(pw)
		for len(pw) < n {
			pw += pw
		}
		id = "none"
		set("result", pw[:n])
		set("bcryptHash", "$2a$10$"+fakeID("", name+"bcrypt", 53))
	case "aws:rds/subnetGroup:SubnetGroup", "aws:elasticache/subnetGroup:SubnetGroup":
		id = physical
		set("name", physical)
		svc := "rds"
		if strings.HasPrefix(args.TypeToken, "aws:elasticache") {
			svc = "elasticache"
		}
		set("arn", m.arn(svc, "subgrp:"+physical))
	case "aws:rds/parameterGroup:ParameterGroup":
		id = physical
		set("arn", m.arn("rds", "pg:"+physical))
	case "aws:rds/instance:Instance":
		physical = str("identifier")
		if physical == "" {
			physical = name + "-" + fakeID("", name, 7)
		}
		id = fakeID("db-", name, 26)
		port := 5432
		if p := args.Inputs["port"]; p.IsNumber() {
			port = int(p.NumberValue())
		}
		host := fmt.Sprintf("%s.%s.%s.rds.amazonaws.com", physical, fakeID("c", accountID, 11), m.region)
		set("identifier", physical)
		set("address", host)
		set("endpoint", fmt.Sprintf("%s:%d", host, port))
		set("port", port)
		set("arn", m.arn("rds", "db:"+physical))
		set("resourceId", id)
		set("hostedZoneId", "Z29XKXDKYMONMX")
		set("status", "available")
	case "aws:msk/configuration:Configuration":
		set("name", physical)
		set("arn", m.arn("kafka", "configuration/"+physical+"/"+uuid(name)))
		set("latestRevision", 1)
	case "aws:msk/cluster:Cluster":
		cluster := str("clusterName")
		set("arn", m.arn("kafka", "cluster/"+cluster+"/"+uuid(name)+"-3"))
		id = m.arn("kafka", "cluster/"+cluster+"/"+uuid(name)+"-3")
		n := 3
		if b := args.Inputs["numberOfBrokerNodes"]; b.IsNumber() {
			n = int(b.NumberValue())
		}
		var scram, tls []string
		for i := 1; i <= n; i++ {
			host := fmt.Sprintf("b-%d.%s.%s.c3.kafka.%s.amazonaws.com", i, cluster, fakeID("", name, 6), m.region)
			scram = append(scram, host+":9096")
			tls = append(tls, host+":9094")
		}
		set("bootstrapBrokersSaslScram", strings.Join(scram, ","))
		set("bootstrapBrokersTls", strings.Join(tls, ","))
		set("currentVersion", "K3AEGXETSR30VB")
		set("zookeeperConnectString", "")
	case "aws:msk/scramSecretAssociation:ScramSecretAssociation":
		id = str("clusterArn")
	case "aws:secretsmanager/secret:Secret":
		if p := str("namePrefix"); p != "" {
			physical = p + "20261122041600000000000001"
			set("name", physical)
		}
		id = m.arn("secretsmanager", "secret:"+physical+"-"+fakeID("", name, 6))
		set("arn", id)
	case "aws:secretsmanager/secretVersion:SecretVersion":
		id = uuid(name) + "|" + uuid(name+"version")
		set("versionId", uuid(name+"version"))
		set("arn", m.arn("secretsmanager", "secret:"+name))
	case "aws:elasticache/replicationGroup:ReplicationGroup":
		group := str("replicationGroupId")
		id = group
		set("arn", m.arn("elasticache", "replicationgroup:"+group))
		set("primaryEndpointAddress", fmt.Sprintf("master.%s.%s.%s.cache.amazonaws.com", group, fakeID("", name, 6), strings.ReplaceAll(m.region, "-", "")))
		set("readerEndpointAddress", fmt.Sprintf("replica.%s.%s.%s.cache.amazonaws.com", group, fakeID("", name, 6), strings.ReplaceAll(m.region, "-", "")))
		set("memberClusters", []any{group + "-001", group + "-002"})
	case "random:index/randomId:RandomId":
		// A fresh random value for every new set of keepers, as the provider makes one per create.
		sum := sha256.Sum256([]byte(name + "|" + fmt.Sprint(args.Inputs["keepers"])))
		n := 8
		if l := args.Inputs["byteLength"]; l.IsNumber() {
			n = int(l.NumberValue())
		}
		set("hex", hex.EncodeToString(sum[:n]))
		set("b64Std", base64.StdEncoding.EncodeToString(sum[:n]))
		set("b64Url", base64.RawURLEncoding.EncodeToString(sum[:n]))
		set("dec", new(big.Int).SetBytes(sum[:n]).String())
		id = base64.RawURLEncoding.EncodeToString(sum[:n])
	case "aws:ec2/vpcEndpoint:VpcEndpoint":
		id = fakeID("vpce-", name, 17)
		set("arn", m.arn("ec2", "vpc-endpoint/"+id))
		set("prefixListId", fakeID("pl-", name, 8))
	case "aws:iam/rolePolicy:RolePolicy":
		id = str("role") + ":" + physical
	case "tls:index/privateKey:PrivateKey":
		body := base64.StdEncoding.EncodeToString([]byte(fakeID("", name+"key", 64)))
		set("privateKeyPem", "-----BEGIN RSA PRIVATE KEY-----\n"+body+"\n-----END RSA PRIVATE KEY-----\n")
		set("privateKeyPemPkcs8", "-----BEGIN PRIVATE KEY-----\n"+body+"\n-----END PRIVATE KEY-----\n")
		set("publicKeyPem", "-----BEGIN PUBLIC KEY-----\n"+base64.StdEncoding.EncodeToString([]byte(fakeID("", name+"pub", 64)))+"\n-----END PUBLIC KEY-----\n")
		if str("algorithm") == "ECDSA" { // a real public key: the platform derives its kid
			set("publicKeyPem", mockECDSAPublicPEM)
		}
		set("publicKeyFingerprintSha256", "SHA256:"+fakeID("", name+"fp", 43))
		id = fakeID("", name, 40)
	case "tls:index/selfSignedCert:SelfSignedCert":
		set("certPem", "-----BEGIN CERTIFICATE-----\n"+base64.StdEncoding.EncodeToString([]byte(fakeID("", name+"cert", 64)))+"\n-----END CERTIFICATE-----\n")
		set("validityStartTime", "2026-11-22T04:16:00Z")
		set("validityEndTime", "2031-11-21T04:16:00Z")
		set("readyForRenewal", false)
		id = fmt.Sprint(int(fakeID("", name, 2)[0]) * 7919)
	case "kafka:index/topic:Topic":
		id = str("name")
	case "kafka:index/acl:Acl":
		id = strings.Join([]string{str("aclPrincipal"), str("aclHost"), str("aclOperation"), str("aclPermissionType"), str("aclResourceType"), str("aclResourceName"), str("resourcePatternTypeFilter")}, "|")
	case "kafka:index/userScramCredential:UserScramCredential":
		id = str("username") + "|" + str("scramMechanism")
	case "openstack:identity/ec2CredentialV3:Ec2CredentialV3":
		set("access", fakeID("", name+"access", 32))
		set("secret", fakeID("", name+"secret", 32))
		set("projectId", uuid("project"))
		set("userId", uuid("user"))
	case "openstack:objectstorage/container:Container":
		id = physical
	case "docker:index/image:Image":
		// The provider pushes and reports the digest the registry gave the image.
		ref := str("imageName")
		repo := ref
		if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			repo = ref[:i]
		}
		id = ref
		set("repoDigest", repo+"@sha256:"+fakeID("", ref, 64))
		set("baseImageName", ref)
	case "kubernetes:storage.k8s.io/v1:StorageClass":
		if md := args.Inputs["metadata"]; md.IsObject() {
			if n := md.ObjectValue()["name"]; n.IsString() {
				id = n.StringValue()
			}
		}
	}

	parent, provider := "", args.Provider
	var deps, ignore, replaceOn []string
	dbr := false
	if rpc := args.RegisterRPC; rpc != nil {
		parent = rpc.GetParent()
		deps = rpc.GetDependencies()
		dbr, ignore = rpc.GetDeleteBeforeReplace(), rpc.GetIgnoreChanges()
		replaceOn = rpc.GetReplaceOnChanges()
		if provider == "" {
			// A component (e.g. a Helm chart) carries its providers by package instead.
			provider = rpc.GetProviders()[strings.SplitN(args.TypeToken, ":", 2)[0]]
		}
	}
	m.mu.Lock()
	m.resources = append(m.resources, Recorded{
		URN: m.urn(parent, args.TypeToken, name), Type: args.TypeToken, Name: name, Parent: parent,
		Provider: provider, Custom: args.Custom, Inputs: args.Inputs, Outputs: out, Deps: deps,
		DeleteBeforeReplace: dbr, IgnoreChanges: ignore, ReplaceOnChanges: replaceOn,
	})
	m.mu.Unlock()
	return id, out, nil
}

// urn computes the URN the engine gives a resource, as the mock monitor does.
func (m *mocks) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.stack), tokens.PackageName(project), parentType, tokens.Type(typ), name))
}

// mockECDSAPublicPEM is a real P-256 public key (PKIX PEM) that the mock tls.PrivateKey returns
// for ECDSA keys.
var mockECDSAPublicPEM = func() string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}()

func magnumKubeconfig(cluster, api string) string {
	return fmt.Sprintf(`apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    server: %[2]s
  name: %[1]s
contexts:
- context:
    cluster: %[1]s
    user: admin
  name: default
current-context: default
kind: Config
users:
- name: admin
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ==
`, cluster, api)
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.invokes = append(m.invokes, args.Token)
	m.mu.Unlock()
	str := func(k string) string {
		if v, ok := args.Args[resource.PropertyKey(k)]; ok && v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	switch args.Token {
	case chartTemplateToken:
		objs, err := m.helmTemplate(str("jsonOpts"))
		if err != nil {
			return nil, err
		}
		return resource.NewPropertyMapFromMap(map[string]any{"result": objs}), nil
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		ids := make([]any, len(m.zones))
		names := make([]any, len(m.zones))
		for i, z := range m.zones {
			names[i] = z
			ids[i] = "euw1-az" + fmt.Sprint(i+1)
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": m.region, "names": names, "zoneIds": ids, "state": "available", "groupNames": []any{m.region},
		}), nil
	case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": m.region, "userName": "AWS", "password": "eyJwYXlsb2FkIjoiZXhhbXBsZS1lY3ItdG9rZW4ifQ==",
			"authorizationToken": "QVdTOmV5SndZWGxzYjJGa0lqb2laWGhoYlhCc1pTMWxZM0l0ZEc5clpXNGlmUT09",
			"proxyEndpoint":      "https://" + accountID + ".dkr.ecr." + m.region + ".amazonaws.com",
			"expiresAt":          "2026-11-22T16:00:00Z",
		}), nil
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": accountID, "arn": deployerSession,
			"id": accountID, "userId": "AROAEXAMPLEID:session",
		}), nil
	case "aws:iam/getSessionContext:getSessionContext":
		// STS names an assumed role's session without the role's path; IAM's issuer has it.
		arn := str("arn")
		out := map[string]any{"arn": arn, "id": arn, "issuerArn": arn, "issuerId": "", "issuerName": "", "sessionName": ""}
		if arn == deployerSession {
			out["issuerArn"], out["issuerName"], out["sessionName"] = deployerRole, "ci-deployer", "session"
		}
		return resource.NewPropertyMapFromMap(out), nil
	case "openstack:networking/getNetwork:getNetwork":
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": uuid("net-" + str("name")), "name": str("name"), "external": true, "mtu": 1500,
			"adminStateUp": "true", "shared": "false", "subnets": []any{uuid("subnet-" + str("name"))},
		}), nil
	case "openstack:images/getImage:getImage":
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": uuid("image-" + str("name")), "name": str("name"), "diskFormat": "qcow2",
			"containerFormat": "bare", "minDiskGb": 10, "status": "active",
			"properties": imageProperties(str("name")),
		}), nil
	}
	return nil, fmt.Errorf("mocks: no answer for invoke %s", args.Token)
}

// imageProperties are the Glance properties of an image as its builder sets them: Fedora CoreOS
// images carry os_distro only; azimuth-images' Kubernetes images ("ubuntu-jammy-kube-v1.34.2")
// carry os_distro and kube_version.
func imageProperties(name string) map[string]any {
	if strings.HasPrefix(name, "fedora-coreos") {
		return map[string]any{"os_distro": "fedora-coreos"}
	}
	props := map[string]any{"os_distro": strings.SplitN(name, "-", 2)[0]}
	if _, v, ok := strings.Cut(name, "-kube-"); ok {
		props["kube_version"] = v
	}
	return props
}

// stackConfig reads the stack's configuration as the Pulumi CLI hands it to the program: the
// project's defaults from Pulumi.yaml, overlaid by Pulumi.<stack>.yaml, objects as JSON.
func stackConfig(t testing.TB, stack string) map[string]string {
	t.Helper()
	var proj struct {
		Config map[string]struct {
			Default any `yaml:"default"`
		} `yaml:"config"`
	}
	readYAML(t, "Pulumi.yaml", &proj)
	cfg := map[string]string{}
	for k, v := range proj.Config {
		if v.Default != nil {
			cfg[project+":"+k] = configValue(t, v.Default)
		}
	}
	var st struct {
		Config map[string]any `yaml:"config"`
	}
	readYAML(t, "Pulumi."+stack+".yaml", &st)
	for k, v := range st.Config {
		cfg[k] = configValue(t, v)
	}
	return cfg
}

func readYAML(t testing.TB, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func configValue(t testing.TB, v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any, []any:
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	default:
		return fmt.Sprint(v)
	}
}

// setObject replaces one field of an object config value (JSON).
func setObject(t testing.TB, cfg map[string]string, key, field string, value any) {
	t.Helper()
	obj := map[string]any{}
	if raw := cfg[key]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &obj); err != nil {
			t.Fatal(err)
		}
	}
	obj[field] = value
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	cfg[key] = string(b)
}

// run runs a program under mocks with the given configuration, the way the Go language host
// does (PULUMI_CONFIG holds the config so unknown keys are caught), and returns what it recorded.
func run(t testing.TB, stack string, cfg map[string]string, secretKeys []string, program pulumi.RunFunc) (*mocks, error) {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(pulumi.EnvConfig, string(raw))
	m := newMocks(stack, cfg["aws:region"])
	// Every chart the program installs is rendered, as the provider would, so its objects are
	// part of every test: their dependencies, their schemas, the policy pack's view.
	m.renderer = cachedRenderer(needCharts(t))
	err = pulumi.RunErr(program, pulumi.WithMocks(project, stack, m), func(ri *pulumi.RunInfo) {
		ri.Config = cfg
		ri.ConfigSecretKeys = secretKeys
	})
	return m, err
}

// Query helpers over recorded resources.

func (m *mocks) ofType(typ string) []Recorded {
	var out []Recorded
	for _, r := range m.resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Recorded) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (m *mocks) byName(t testing.TB, typ, name string) Recorded {
	t.Helper()
	for _, r := range m.resources {
		if r.Type == typ && r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s named %s; have %v", typ, name, names(m.ofType(typ)))
	return Recorded{}
}

func (m *mocks) urns() []string {
	out := make([]string, len(m.resources))
	for i, r := range m.resources {
		out[i] = r.URN
	}
	slices.Sort(out)
	return out
}

func names(rs []Recorded) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}

// get reads a nested input by a dotted path ("vpcConfig.endpointPrivateAccess").
func get(pm resource.PropertyMap, path string) resource.PropertyValue {
	v := resource.NewObjectProperty(pm)
	for _, part := range strings.Split(path, ".") {
		for v.IsSecret() {
			v = v.SecretValue().Element
		}
		if !v.IsObject() {
			return resource.NewNullProperty()
		}
		v = v.ObjectValue()[resource.PropertyKey(part)]
	}
	return v
}

func strs(v resource.PropertyValue) []string {
	if !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

// tempServices makes a services folder with one sub-folder per name, each with a service.yaml.
func tempServices(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n, "service.yaml"), []byte(minimalSpec), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// minimalSpec is the smallest valid service.yaml: an internal service with no data.
const minimalSpec = `port: 8080
metricsPort: 9090
replicas:
  default: {min: 1, max: 3}
  prod: {min: 3, max: 6}
autoscaling: {cpuTarget: 70, memoryTarget: 80}
resources:
  requests: {cpu: 100m, memory: 64Mi}
  limits: {cpu: 500m, memory: 128Mi}
timeout: 5s
retries: 1
`
