package rules

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// stackType is the type of the root resource, whose properties are the stack's outputs.
const stackType = "pulumi:pulumi:Stack"

// sensitiveKeysDefault matches the names of properties, env variables and outputs that hold
// secrets.
const sensitiveKeysDefault = `(?i)(password|passwd|secret|secret_?string|secret_?(access_?)?key|token|kubeconfig|private_?key|credentials?)$`

const (
	paramAllowedPorts         = "allowedPublicPorts"
	paramGatewayNames         = "gatewayNames"
	paramEncryptedVolumeTypes = "encryptedVolumeTypes"
	paramSensitiveKeys        = "sensitiveKeys"
)

func security() []Policy {
	return []Policy{
		{
			Name: "container-security-context", Goal: Security, Level: Mandatory,
			Description: "Containers run as non-root, unprivileged, without privilege escalation and with a read-only root filesystem, so a compromised process cannot take over its node.",
			Check:       checkSecurityContext,
		},
		{
			Name: "network-ingress-restricted", Goal: Security, Level: Mandatory,
			Description: "No security group, OpenStack security group rule or LoadBalancer Service is open to the whole internet (0.0.0.0/0, ::/0), except the public gateway on its allowed ports (80 and 443).",
			Params: []Param{
				{paramAllowedPorts, KindStrings, []string{"80", "443"}, "Ports the public gateway may open to the internet."},
				{paramGatewayNames, KindStrings, []string{"*gateway*"}, "Globs on the resource or Kubernetes name of the public gateway's security groups and Services."},
			},
			Check: checkIngress,
		},
		{
			Name: "cluster-api-restricted", Goal: Security, Level: Mandatory,
			Description: "The Kubernetes API is not open to the internet: EKS has its private endpoint on and a public endpoint, if any, limited to named CIDRs; a Magnum API load balancer with a floating IP admits only named CIDRs.",
			Check:       checkClusterAPI,
		},
		{
			Name: "encryption-at-rest", Goal: Security, Level: Mandatory,
			Description: "Data at rest is encrypted wherever the service lets the program choose: RDS, ElastiCache, EBS volumes, launch template disks, EFS, EBS StorageClasses, and Cinder volumes and StorageClasses when encryptedVolumeTypes names the encrypted volume types.",
			Params:      []Param{{paramEncryptedVolumeTypes, KindStrings, []string{}, "Cinder volume types that are encrypted; empty skips Cinder (encryption is a property of the cloud's volume types)."}},
			Check:       checkEncryptionAtRest,
		},
		{
			Name: "encryption-in-transit", Goal: Security, Level: Mandatory,
			Description: "Clients reach managed Kafka and Redis over TLS: MSK client-broker and in-cluster traffic encrypted, ElastiCache transit encryption on; an Istio Gateway serves HTTPS, and its plain HTTP servers only redirect (tls.httpsRedirect) or share it with HTTPS for ACME challenges; a Gateway that declares TLS at its load balancer is left to edge-tls-at-load-balancer.",
			Check:       checkEncryptionInTransit,
		},
		{
			Name: "secrets-not-plaintext", Goal: Security, Level: Mandatory,
			Description: "Secrets stay Pulumi secrets: Kubernetes Secret data and password/token/key/kubeconfig inputs are encrypted in the state, and containers read credentials from Secrets, not literal env values.",
			Params:      []Param{{paramSensitiveKeys, KindString, sensitiveKeysDefault, "Regular expression on property and env names that hold secrets."}},
			Check:       checkPlaintextSecrets,
		},
		{
			Name: "stack-outputs-secret", Goal: Security, Level: Mandatory,
			Description: "Stack outputs whose names say they hold a password, token, key or kubeconfig are Pulumi secrets, so `pulumi stack output` and the state never show them in plain text.",
			Params:      []Param{{paramSensitiveKeys, KindString, sensitiveKeysDefault, "Regular expression on output names that hold secrets."}},
			CheckStack:  checkStackOutputs,
		},
		{
			Name: "mesh-mtls-strict", Goal: Security, Level: Mandatory,
			Description: "Istio enforces mutual TLS mesh-wide: where the stack runs Istio a PeerAuthentication in the root namespace sets mode STRICT, and no PeerAuthentication relaxes it to PERMISSIVE or DISABLE.",
			Params:      []Param{{"meshRootNamespace", KindString, "istio-system", "Istio's root namespace, where the mesh-wide PeerAuthentication lives."}},
			CheckStack:  checkMeshMTLS,
		},
		{
			Name: "edge-tls-at-load-balancer", Goal: Security, Level: Mandatory,
			Description: "An Istio Gateway that declares TLS terminated at its load balancer (groundwork.io/tls-termination: load-balancer) sits behind a LoadBalancer Service with a certificate (aws-load-balancer-ssl-cert), a TLS 1.2+ security policy and a TLS listener on every port where the Gateway serves plain HTTP other than a redirect.",
			CheckStack:  checkTLSAtLoadBalancer,
		},
		{
			Name: "namespace-network-policy", Goal: Security, Level: Advisory,
			Description: "Every namespace that runs workloads has a NetworkPolicy, so pods are not reachable from every other pod in the cluster.",
			CheckStack:  checkNamespaceNetworkPolicy,
		},
	}
}

func checkSecurityContext(r Resource, _ Config) []string {
	spec := podSpecPath(r.Type)
	if spec == "" {
		return nil
	}
	pod := r.Properties
	var out []string
	for _, ctr := range containers(r) {
		sc := func(field string) property.Value {
			if v := get(ctr.spec, "securityContext."+field); !v.IsNull() {
				return v
			}
			return property.Value{}
		}
		podSC := func(field string) property.Value { return get(pod, spec+".securityContext."+field) }
		var problems, fixes []string
		nonRoot, user := sc("runAsNonRoot"), sc("runAsUser")
		if nonRoot.IsNull() {
			nonRoot = podSC("runAsNonRoot")
		}
		if user.IsNull() {
			user = podSC("runAsUser")
		}
		switch {
		case nonRoot.IsComputed() || user.IsComputed():
		case user.IsNumber() && user.AsNumber() == 0:
			problems, fixes = append(problems, "runs as root (runAsUser 0)"), append(fixes, "runAsUser to a non-zero UID")
		case !(nonRoot.IsBool() && nonRoot.AsBool()) && !(user.IsNumber() && user.AsNumber() > 0):
			problems, fixes = append(problems, "may run as root"), append(fixes, "runAsNonRoot: true (and a non-zero runAsUser if the image has no USER)")
		}
		if v := sc("privileged"); v.IsBool() && v.AsBool() {
			problems, fixes = append(problems, "is privileged"), append(fixes, "privileged: false")
		}
		if v := sc("allowPrivilegeEscalation"); !v.IsComputed() && !(v.IsBool() && !v.AsBool()) {
			problems, fixes = append(problems, "may escalate privileges"), append(fixes, "allowPrivilegeEscalation: false")
		}
		if v := sc("readOnlyRootFilesystem"); !v.IsComputed() && !(v.IsBool() && v.AsBool()) {
			problems, fixes = append(problems, "has a writable root filesystem"), append(fixes, "readOnlyRootFilesystem: true (mount an emptyDir where it must write)")
		}
		if len(problems) > 0 {
			out = append(out, violation(r, ctr.label()+" "+strings.Join(problems, ", "), "set the container's securityContext "+strings.Join(fixes, ", ")))
		}
	}
	return out
}

func isWorld(cidr string) bool {
	c := strings.TrimSpace(cidr)
	return c == "0.0.0.0/0" || c == "::/0" || c == "0.0.0.0" || c == "::"
}

// portsAllowed reports whether the port range [from, to] lies in the allowed ports; all is a
// rule for every port.
func portsAllowed(from, to int, all bool, allowed []string) bool {
	if all || from > to {
		return false
	}
	for p := from; p <= to; p++ {
		if !contains(allowed, strconv.Itoa(p)) {
			return false
		}
	}
	return true
}

func isGateway(r Resource, c Config) bool {
	names := []string{r.Name}
	if n := k8sName(r); n != "" {
		names = append(names, n)
	}
	for _, pat := range c.Strings(paramGatewayNames) {
		for _, n := range names {
			if ok, _ := path.Match(pat, n); ok {
				return true
			}
		}
	}
	return false
}

func checkIngress(r Resource, c Config) []string {
	p := r.Properties
	allowed := c.Strings(paramAllowedPorts)
	gateway := isGateway(r, c)
	fix := "allow named CIDRs only (the VPC, a VPN, the operators' range); only the public gateway's security group and Service may open " + strings.Join(allowed, "/") + " to the internet"
	if gateway {
		fix = "the public gateway may open only " + strings.Join(allowed, "/") + " to the internet: remove the other ports from its security group or Service (or limit them to named CIDRs)"
	}
	// open reports a port range open to the world; name is the Service port's name, if any.
	open := func(where string, from, to int, all bool, name string) []string {
		if gateway && portsAllowed(from, to, all, allowed) {
			return nil
		}
		ports := fmt.Sprintf("ports %d-%d", from, to)
		switch {
		case all:
			ports = "every port"
		case from == to && name != "":
			ports = fmt.Sprintf("port %d (%q)", from, name)
		case from == to:
			ports = fmt.Sprintf("port %d", from)
		}
		return []string{violation(r, fmt.Sprintf("%s opens %s to the whole internet", where, ports), fix)}
	}
	num := func(m property.Map, key string) int { n, _, _ := number(m, key); return int(n) }
	var out []string
	switch r.Type {
	case "aws:ec2/securityGroup:SecurityGroup":
		for i, in := range mapsOf(p, "ingress") {
			cidrs, _ := stringList(in, "cidrBlocks")
			v6, _ := stringList(in, "ipv6CidrBlocks")
			if !anyWorld(append(cidrs, v6...)) {
				continue
			}
			out = append(out, open(fmt.Sprintf("ingress[%d]", i), num(in, "fromPort"), num(in, "toPort"), str(in, "protocol") == "-1" || str(in, "protocol") == "all", "")...)
		}
	case "aws:ec2/securityGroupRule:SecurityGroupRule":
		cidrs, _ := stringList(p, "cidrBlocks")
		v6, _ := stringList(p, "ipv6CidrBlocks")
		if str(p, "type") == "ingress" && anyWorld(append(cidrs, v6...)) {
			out = append(out, open("the rule", num(p, "fromPort"), num(p, "toPort"), str(p, "protocol") == "-1" || str(p, "protocol") == "all", "")...)
		}
	case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
		if isWorld(str(p, "cidrIpv4")) || isWorld(str(p, "cidrIpv6")) {
			out = append(out, open("the rule", num(p, "fromPort"), num(p, "toPort"), str(p, "ipProtocol") == "-1", "")...)
		}
	case "openstack:networking/secGroupRule:SecGroupRule":
		if dir := str(p, "direction"); dir != "ingress" {
			return nil
		}
		if unknown(get(p, "remoteIpPrefix")) || unknown(get(p, "remoteGroupId")) {
			return nil
		}
		prefix, group := str(p, "remoteIpPrefix"), str(p, "remoteGroupId")
		// Neutron admits any source where a rule names neither a prefix nor a group.
		if isWorld(prefix) || (prefix == "" && group == "") {
			from, to := num(p, "portRangeMin"), num(p, "portRangeMax")
			all := str(p, "protocol") == "" || (from == 0 && to == 0)
			out = append(out, open("the rule", from, to, all, "")...)
		}
	default:
		if !isK8s(r.Type, "core", "Service") || str(p, "spec.type") != "LoadBalancer" {
			return nil
		}
		ranges, known := stringList(p, "spec.loadBalancerSourceRanges")
		if !known || (len(ranges) > 0 && !anyWorld(ranges)) {
			return nil
		}
		for _, port := range mapsOf(p, "spec.ports") {
			n := num(port, "port")
			out = append(out, open("the LoadBalancer Service", n, n, false, str(port, "name"))...)
		}
	}
	return out
}

func anyWorld(cidrs []string) bool {
	for _, c := range cidrs {
		if isWorld(c) {
			return true
		}
	}
	return false
}

func checkClusterAPI(r Resource, _ Config) []string {
	p := r.Properties
	switch r.Type {
	case typeEKSCluster:
		if unknown(get(p, "vpcConfig")) {
			return nil
		}
		var out []string
		if b := boolean(p, "vpcConfig.endpointPrivateAccess"); b == isFalse || b == unset {
			out = append(out, violation(r, "has the private API endpoint off, so nodes and operators inside the VPC reach the API over the internet",
				"set vpcConfig.endpointPrivateAccess: true"))
		}
		if b := boolean(p, "vpcConfig.endpointPublicAccess"); b == isTrue || b == unset {
			cidrs, known := stringList(p, "vpcConfig.publicAccessCidrs")
			if known && (len(cidrs) == 0 || anyWorld(cidrs)) {
				out = append(out, violation(r, "has a public API endpoint open to 0.0.0.0/0",
					"set vpcConfig.publicAccessCidrs to the operators' and CI's ranges (groundwork:aws.publicAccessCidrs), or endpointPublicAccess: false"))
			}
		}
		return out
	case typeMagnumCluster, typeMagnumTemplate:
		if boolean(p, "labels.master_lb_floating_ip_enabled") != isTrue {
			return nil
		}
		// The Cluster API Helm driver reads api_master_lb_allowed_cidrs
		// (magnum_capi_helm/conf.py); the Heat drivers read master_lb_allowed_cidrs
		// (https://docs.openstack.org/magnum/latest/user/index.html).
		label := "labels.api_master_lb_allowed_cidrs"
		if !has(p, label) {
			label = "labels.master_lb_allowed_cidrs"
		}
		v := get(p, label)
		if v.IsComputed() {
			return nil
		}
		cidrs := strings.FieldsFunc(str(p, label), func(r rune) bool { return r == ',' || r == ' ' })
		if len(cidrs) == 0 || anyWorld(cidrs) {
			return []string{violation(r, "exposes the Kubernetes API on a floating IP to the whole internet",
				"set the label "+strings.TrimPrefix(label, "labels.")+" to named ranges (groundwork:openstack.apiAllowedCidrs)")}
		}
	}
	return nil
}

func checkEncryptionAtRest(r Resource, c Config) []string {
	p := r.Properties
	off := func(field, what string) []string {
		if b := boolean(p, field); b == isFalse || b == unset {
			return []string{violation(r, what+" is not encrypted at rest", "set "+field+": true (with a customer-managed KMS key where the data is sensitive)")}
		}
		return nil
	}
	types := c.Strings(paramEncryptedVolumeTypes)
	switch {
	case r.Type == typeRDSInstance:
		if str(p, "dbClusterIdentifier") != "" {
			return nil // Aurora members take the cluster's setting
		}
		return off("storageEncrypted", "its storage")
	case r.Type == typeRDSCluster:
		return off("storageEncrypted", "its storage")
	case r.Type == typeElastiCacheGroup:
		return off("atRestEncryptionEnabled", "its data")
	case r.Type == "aws:ebs/volume:Volume":
		return off("encrypted", "the volume")
	case r.Type == typeEFSFileSystem:
		return off("encrypted", "the file system")
	case r.Type == "aws:ec2/launchTemplate:LaunchTemplate":
		var out []string
		for i, bd := range mapsOf(p, "blockDeviceMappings") {
			if !has(bd, "ebs") {
				continue
			}
			if b := boolean(bd, "ebs.encrypted"); b == isFalse || b == unset {
				out = append(out, violation(r, fmt.Sprintf("disk blockDeviceMappings[%d] (%s) is not encrypted", i, str(bd, "deviceName")),
					"set blockDeviceMappings[].ebs.encrypted: \"true\""))
			}
		}
		return out
	case r.Type == "aws:ec2/instance:Instance":
		if has(p, "rootBlockDevice") {
			if b := boolean(p, "rootBlockDevice.encrypted"); b == isFalse || b == unset {
				return []string{violation(r, "its root disk is not encrypted", "set rootBlockDevice.encrypted: true")}
			}
		}
	case isK8s(r.Type, "storage.k8s.io", "StorageClass"):
		switch prov := str(p, "provisioner"); prov {
		case "ebs.csi.aws.com", "kubernetes.io/aws-ebs":
			if b := boolean(p, "parameters.encrypted"); b == isFalse || b == unset {
				return []string{violation(r, "provisions unencrypted EBS volumes", `set parameters.encrypted: "true"`)}
			}
		case "cinder.csi.openstack.org", "kubernetes.io/cinder":
			if len(types) > 0 && !contains(types, str(p, "parameters.type")) {
				return []string{violation(r, fmt.Sprintf("provisions Cinder volumes of type %q, which is not an encrypted type", str(p, "parameters.type")),
					"set parameters.type to one of "+strings.Join(types, ", "))}
			}
		}
	case r.Type == "openstack:blockstorage/volume:Volume":
		if len(types) > 0 && !unknown(get(p, "volumeType")) && !contains(types, str(p, "volumeType")) {
			return []string{violation(r, fmt.Sprintf("is of volume type %q, which is not an encrypted type", str(p, "volumeType")),
				"set volumeType to one of "+strings.Join(types, ", "))}
		}
	}
	return nil
}

func checkEncryptionInTransit(r Resource, _ Config) []string {
	p := r.Properties
	switch r.Type {
	case typeMSKCluster:
		var out []string
		if cb := str(p, "encryptionInfo.encryptionInTransit.clientBroker"); cb == "PLAINTEXT" || cb == "TLS_PLAINTEXT" {
			out = append(out, violation(r, fmt.Sprintf("accepts plaintext client connections (clientBroker %s)", cb),
				`set encryptionInfo.encryptionInTransit.clientBroker: "TLS"`))
		}
		if boolean(p, "encryptionInfo.encryptionInTransit.inCluster") == isFalse {
			out = append(out, violation(r, "replicates between brokers in plaintext", "set encryptionInfo.encryptionInTransit.inCluster: true"))
		}
		return out
	case typeElastiCacheGroup:
		if b := boolean(p, "transitEncryptionEnabled"); b == isFalse || b == unset {
			return []string{violation(r, "accepts plaintext connections", "set transitEncryptionEnabled: true (and an authToken or RBAC users)")}
		}
	case typeIstioGateway:
		// A Gateway with no HTTPS server lets passwords and tokens cross the internet in clear.
		for _, srv := range list(p, "spec.servers") {
			if !srv.IsMap() {
				continue
			}
			if proto := strings.ToUpper(str(srv.AsMap(), "port.protocol")); proto == "HTTPS" || proto == "TLS" {
				return nil
			}
		}
		if tlsAtLoadBalancer(r) {
			// Its load balancer decrypts: edge-tls-at-load-balancer checks that the LoadBalancer
			// Service in front of it has a TLS listener on each of its plain ports.
			return nil
		}
		if len(list(p, "spec.servers")) > 0 {
			return []string{violation(r, "serves plain HTTP only", "add an HTTPS server with tls.credentialName and redirect HTTP to it (groundwork:edge.tls)")}
		}
	}
	return nil
}

const typeIstioGateway = "kubernetes:networking.istio.io/v1:Gateway"

// tlsTerminationAnnotation on an Istio Gateway, valued "load-balancer", declares that a load
// balancer in front of it terminates TLS; components/istio sets it (TLSTerminationAnnotation).
const tlsTerminationAnnotation = "groundwork.io/tls-termination"

func tlsAtLoadBalancer(r Resource) bool {
	a, _ := stringMap(r.Properties, "metadata.annotations")
	return a[tlsTerminationAnnotation] == "load-balancer"
}

// The annotations of cloud-provider-aws's service controller that make an NLB listener TLS
// (kubernetes/cloud-provider-aws pkg/providers/v1/aws.go: ServiceAnnotationLoadBalancerCertificate,
// ServiceAnnotationLoadBalancerSSLPorts, ServiceAnnotationLoadBalancerSSLNegotiationPolicy).
const (
	annotationSSLCert   = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"
	annotationSSLPorts  = "service.beta.kubernetes.io/aws-load-balancer-ssl-ports"
	annotationSSLPolicy = "service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy"
)

// tls12Policy matches the ELB security policies whose oldest protocol is TLS 1.2 or 1.3: their
// names carry it after TLS13-, TLS- or FS- (ELBSecurityPolicy-TLS13-1-2-2021-06,
// ELBSecurityPolicy-TLS-1-2-2017-01, ELBSecurityPolicy-FS-1-2-2019-08, ...;
// https://docs.aws.amazon.com/elasticloadbalancing/latest/network/describe-ssl-policies.html).
// Unset, a listener gets ELBSecurityPolicy-2016-08, which accepts TLS 1.0.
var tls12Policy = regexp.MustCompile(`^ELBSecurityPolicy-(TLS13|TLS|FS)-1-[23]-`)

// checkTLSAtLoadBalancer holds each Gateway that declares TLS at the load balancer to it: a
// LoadBalancer Service that selects the Gateway's pods has a TLS listener (a certificate, a
// TLS 1.2+ policy) on every port where the Gateway serves plain HTTP other than a redirect.
func checkTLSAtLoadBalancer(rs []Resource, _ Config) []Finding {
	var out []Finding
	for _, gw := range rs {
		if gw.Type != typeIstioGateway || !tlsAtLoadBalancer(gw) {
			continue
		}
		sel, known := stringMap(gw.Properties, "spec.selector")
		if !known {
			continue
		}
		var ports []float64
		for _, srv := range mapsOf(gw.Properties, "spec.servers") {
			proto := strings.ToUpper(str(srv, "port.protocol"))
			n, ok, known := number(srv, "port.number")
			if !known || proto == "HTTPS" || proto == "TLS" || boolean(srv, "tls.httpsRedirect") == isTrue {
				continue
			}
			if ok {
				ports = append(ports, n)
			}
		}
		var svcs []Resource
		unknownSvc := false
		for _, s := range rs {
			if !isK8s(s.Type, "core", "Service") || str(s.Properties, "spec.type") != "LoadBalancer" {
				continue
			}
			ssel, known := stringMap(s.Properties, "spec.selector")
			if !known {
				unknownSvc = true
				continue
			}
			if sameSelection(sel, ssel) {
				svcs = append(svcs, s)
			}
		}
		if len(svcs) == 0 {
			if !unknownSvc {
				out = append(out, Finding{gw, violation(gw, "declares TLS at the load balancer ("+tlsTerminationAnnotation+"), but no LoadBalancer Service selects its pods, so its HTTP servers face the internet in clear",
					"serve HTTPS on the Gateway (tls.credentialName), or put it behind a LoadBalancer Service with "+annotationSSLCert)})
			}
			continue
		}
		for _, s := range svcs {
			a, known := stringMap(s.Properties, "metadata.annotations")
			if !known {
				continue
			}
			svc := "Service " + quote(namespaceOf(s)+"/"+k8sName(s))
			if a[annotationSSLCert] == "" {
				out = append(out, Finding{gw, violation(gw, "declares TLS at the load balancer, but its "+svc+" has no certificate ("+annotationSSLCert+"), so its load balancer forwards plain HTTP",
					"set "+annotationSSLCert+" to an ACM certificate ARN (groundwork:edge.tls.mode acm)")})
				continue
			}
			if pol := a[annotationSSLPolicy]; !tls12Policy.MatchString(pol) {
				out = append(out, Finding{gw, violation(gw, fmt.Sprintf("declares TLS at the load balancer, but its %s sets the TLS policy %q, which admits TLS older than 1.2 (unset: ELBSecurityPolicy-2016-08)", svc, pol),
					"set "+annotationSSLPolicy+" to ELBSecurityPolicy-TLS13-1-2-2021-06")})
			}
			for _, port := range ports {
				if !tlsListener(s, a[annotationSSLPorts], port) {
					out = append(out, Finding{gw, violation(gw, fmt.Sprintf("serves plain HTTP on port %v behind the load balancer of %s, which has no TLS listener there (%s)", port, svc, annotationSSLPorts),
						fmt.Sprintf("list port %v in %s, or redirect the Gateway's port %v to https (tls.httpsRedirect)", port, annotationSSLPorts, port))})
				}
			}
		}
	}
	return out
}

// sameSelection reports whether a Gateway's and a Service's selectors pick the same pods as
// far as labels tell: they share a label and disagree on none.
func sameSelection(a, b map[string]string) bool {
	shared := false
	for k, v := range a {
		if w, ok := b[k]; ok {
			if w != v {
				return false
			}
			shared = true
		}
	}
	return shared
}

// tlsListener reports whether the Service's port number has a TLS listener given its SSL-ports
// annotation: every port when it is empty or "*", else the ports it names by number or name
// (cloud-provider-aws getPortSets and the isNLB branch of EnsureLoadBalancer).
func tlsListener(s Resource, sslPorts string, port float64) bool {
	for _, sp := range mapsOf(s.Properties, "spec.ports") {
		n, ok, _ := number(sp, "port")
		if !ok || n != port {
			continue
		}
		if sslPorts == "" || sslPorts == "*" {
			return true
		}
		for _, item := range strings.Split(sslPorts, ",") {
			if item == strconv.Itoa(int(port)) || item == str(sp, "name") {
				return true
			}
		}
	}
	return false
}

// referenceSuffixes end names that refer to a secret without holding it.
var referenceSuffixes = []string{"arn", "id", "name", "ref", "version", "length", "type", "policy", "rotation", "enabled", "path", "key_id", "keyid"}

func sensitiveName(re *regexp.Regexp, name string) bool {
	lower := strings.ToLower(name)
	for _, s := range referenceSuffixes {
		if strings.HasSuffix(lower, s) && !strings.HasSuffix(lower, "password") {
			return false
		}
	}
	return re.MatchString(name)
}

func checkPlaintextSecrets(r Resource, c Config) []string {
	re, err := regexp.Compile(c.String(paramSensitiveKeys))
	if err != nil {
		return []string{violation(r, "cannot be checked: sensitiveKeys is not a regular expression: "+err.Error(), "fix the policy config")}
	}
	p := r.Properties
	plain := plaintext
	var out []string
	switch {
	case isK8s(r.Type, "core", "Secret"):
		for _, field := range []string{"data", "stringData"} {
			v := get(p, field)
			if v.Secret() || !v.IsMap() {
				continue
			}
			for k, e := range v.AsMap().AllStable {
				if plain(e) {
					out = append(out, violation(r, fmt.Sprintf("%s.%s is stored in plain text in the Pulumi state", field, k),
						"wrap the value with pulumi.ToSecret (or read it from a secret config value) so it stays encrypted"))
				}
			}
		}
	case isWorkload(r):
		for _, ctr := range containers(r) {
			for _, env := range mapsOf(ctr.spec, "env") {
				if name, v := str(env, "name"), get(env, "value"); sensitiveName(re, name) && plain(v) && !filePaths.MatchString(v.AsString()) {
					out = append(out, violation(r, fmt.Sprintf("%s gets %s as a literal env value", ctr.label(), name),
						"store it in a Kubernetes Secret and use env[].valueFrom.secretKeyRef"))
				}
			}
		}
	case r.Type != stackType && !isKubernetes(r.Type):
		// Top-level inputs of cloud resources; stack-outputs-secret checks the stack's outputs.
		for k, v := range p.AllStable {
			if sensitiveName(re, k) && plain(v) {
				out = append(out, violation(r, fmt.Sprintf("%s is in plain text in the Pulumi state", k),
					"pass it as a Pulumi secret (pulumi.ToSecret, a secret config value, or the random provider's result) so it stays encrypted"))
			}
		}
	}
	return out
}

// filePaths matches an env value that names files instead of holding a secret: absolute paths
// of two or more segments, colon-separated as in KUBECONFIG (istiod's chart sets
// KUBECONFIG=/var/run/secrets/remote/config, its remote clusters' credentials mounted there).
// https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/#the-kubeconfig-environment-variable
var filePaths = regexp.MustCompile(`^(/[\w.-]+){2,}/?(:(/[\w.-]+){2,}/?)*$`)

// plaintext reports whether a value is a known, non-empty string that is not a secret.
func plaintext(v property.Value) bool {
	return !v.Secret() && !v.IsComputed() && v.IsString() && v.AsString() != ""
}

func checkStackOutputs(rs []Resource, c Config) []Finding {
	re, err := regexp.Compile(c.String(paramSensitiveKeys))
	var out []Finding
	for _, r := range rs {
		if r.Type != stackType {
			continue
		}
		if err != nil {
			return []Finding{{r, violation(r, "cannot be checked: sensitiveKeys is not a regular expression: "+err.Error(), "fix the policy config")}}
		}
		for k, v := range r.Properties.AllStable {
			if sensitiveName(re, k) && plaintext(v) {
				out = append(out, Finding{r, violation(r, fmt.Sprintf("output %s is in plain text", k),
					fmt.Sprintf("export it as a secret: ctx.Export(%q, pulumi.ToSecret(...)), or export the secret Output itself", k))})
			}
		}
	}
	return out
}

func isIstio(r Resource) bool {
	if strings.HasSuffix(group(r.Type), ".istio.io") {
		return true
	}
	if r.Type == "kubernetes:helm.sh/v3:Release" || r.Type == "kubernetes:helm.sh/v4:Chart" {
		chart := str(r.Properties, "chart")
		return strings.HasSuffix(chart, "istiod") || strings.HasSuffix(chart, "/istiod")
	}
	return false
}

func checkMeshMTLS(rs []Resource, c Config) []Finding {
	root := c.String("meshRootNamespace")
	var out []Finding
	var istio *Resource
	strict := false
	for i, r := range rs {
		if isIstio(r) && istio == nil {
			istio = &rs[i]
		}
		if !isK8s(r.Type, "security.istio.io", "PeerAuthentication") {
			continue
		}
		mode := str(r.Properties, "spec.mtls.mode")
		if mode == "PERMISSIVE" || mode == "DISABLE" {
			out = append(out, Finding{r, violation(r, "sets mTLS mode "+mode+", so workloads accept plaintext", `set spec.mtls.mode: STRICT (or leave it UNSET to inherit the mesh's STRICT)`)})
		}
		if pl := get(r.Properties, "spec.portLevelMtls"); pl.IsMap() {
			for port, v := range pl.AsMap().AllStable {
				if m := str(property.NewMap(map[string]property.Value{"v": v}), "v.mode"); m == "PERMISSIVE" || m == "DISABLE" {
					out = append(out, Finding{r, violation(r, fmt.Sprintf("sets mTLS mode %s on port %s", m, port), "remove the port-level exception or set it to STRICT")})
				}
			}
		}
		if namespaceOf(r) == root && !has(r.Properties, "spec.selector") && mode == "STRICT" {
			strict = true
		}
	}
	if istio != nil && !strict {
		out = append(out, Finding{*istio, violation(*istio, "runs Istio, but no mesh-wide PeerAuthentication enforces mTLS, so sidecars accept plaintext",
			fmt.Sprintf("add a security.istio.io/v1 PeerAuthentication named \"default\" in namespace %q with no selector and spec.mtls.mode STRICT", root))})
	}
	return out
}

// workloadNamespaces lists the namespaces that run workloads, with the first workload in each.
func workloadNamespaces(rs []Resource, only func(Resource) bool) (names []string, first map[string]Resource) {
	first = map[string]Resource{}
	for _, r := range rs {
		if !only(r) {
			continue
		}
		ns := namespaceOf(r)
		if ns == "?" {
			continue
		}
		if _, ok := first[ns]; !ok {
			names = append(names, ns)
			first[ns] = r
		}
	}
	return names, first
}

// networkPolicies groups the NetworkPolicies by namespace; unknown is set when a namespace is
// not known yet.
func networkPolicies(rs []Resource) (byNS map[string][]Resource, unknownNS bool) {
	byNS = map[string][]Resource{}
	for _, r := range rs {
		if !isK8s(r.Type, "networking.k8s.io", "NetworkPolicy") {
			continue
		}
		ns := namespaceOf(r)
		if ns == "?" {
			unknownNS = true
			continue
		}
		byNS[ns] = append(byNS[ns], r)
	}
	return byNS, unknownNS
}

func checkNamespaceNetworkPolicy(rs []Resource, c Config) []Finding {
	names, first := workloadNamespaces(rs, isWorkload)
	pols, unknownNS := networkPolicies(rs)
	if unknownNS {
		return nil
	}
	var out []Finding
	for _, ns := range names {
		if len(pols[ns]) > 0 || exemptNamespace(ns, c) {
			continue
		}
		w := first[ns]
		out = append(out, Finding{w, violation(w, fmt.Sprintf("runs in namespace %q, which has no NetworkPolicy: every pod in the cluster can reach it", ns),
			fmt.Sprintf("add NetworkPolicies to namespace %q: a default deny and one allow per caller", ns))})
	}
	return out
}

func exemptNamespace(ns string, c Config) bool {
	for _, pat := range c.Strings(paramExemptNamespaces) {
		if ok, _ := path.Match(pat, ns); ok {
			return true
		}
	}
	return false
}
