package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // upstream's resource ID and subject key ID are SHA-1
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
)

var curves = map[string]elliptic.Curve{"P224": elliptic.P224(), "P256": elliptic.P256(), "P384": elliptic.P384(), "P521": elliptic.P521()}

// Key usages terraform-provider-tls accepts in allowed_uses (its names, snake_case, are what the
// provider takes; the Pulumi docs show them camelCased).
var keyUsages = map[string]x509.KeyUsage{
	"digital_signature":  x509.KeyUsageDigitalSignature,
	"content_commitment": x509.KeyUsageContentCommitment,
	"key_encipherment":   x509.KeyUsageKeyEncipherment,
	"data_encipherment":  x509.KeyUsageDataEncipherment,
	"key_agreement":      x509.KeyUsageKeyAgreement,
	"cert_signing":       x509.KeyUsageCertSign,
	"crl_signing":        x509.KeyUsageCRLSign,
	"encipher_only":      x509.KeyUsageEncipherOnly,
	"decipher_only":      x509.KeyUsageDecipherOnly,
}

var extKeyUsages = map[string]x509.ExtKeyUsage{
	"any_extended":                      x509.ExtKeyUsageAny,
	"server_auth":                       x509.ExtKeyUsageServerAuth,
	"client_auth":                       x509.ExtKeyUsageClientAuth,
	"code_signing":                      x509.ExtKeyUsageCodeSigning,
	"email_protection":                  x509.ExtKeyUsageEmailProtection,
	"ipsec_end_system":                  x509.ExtKeyUsageIPSECEndSystem,
	"ipsec_tunnel":                      x509.ExtKeyUsageIPSECTunnel,
	"ipsec_user":                        x509.ExtKeyUsageIPSECUser,
	"timestamping":                      x509.ExtKeyUsageTimeStamping,
	"ocsp_signing":                      x509.ExtKeyUsageOCSPSigning,
	"microsoft_server_gated_crypto":     x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	"netscape_server_gated_crypto":      x509.ExtKeyUsageNetscapeServerGatedCrypto,
	"microsoft_commercial_code_signing": x509.ExtKeyUsageMicrosoftCommercialCodeSigning,
	"microsoft_kernel_code_signing":     x509.ExtKeyUsageMicrosoftKernelCodeSigning,
}

// now is the clock (tests move it).
var now = time.Now

func tlsKinds() []*kind {
	f, zero := resource.NewProperty(false), resource.NewProperty(0.0)
	return []*kind{{
		token: "tls:index/privateKey:PrivateKey",
		inputs: map[string]resource.PropertyValue{
			"algorithm": null, "rsaBits": resource.NewProperty(2048.0), "ecdsaCurve": resource.NewProperty("P224"),
		},
		computed: []string{"privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh", "publicKeyPem",
			"publicKeyOpenssh", "publicKeyFingerprintMd5", "publicKeyFingerprintSha256"},
		secret: []string{"privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"},
		check:  checkPrivateKey,
		create: createPrivateKey,
	}, {
		token: "tls:index/selfSignedCert:SelfSignedCert",
		inputs: map[string]resource.PropertyValue{
			"privateKeyPem": null, "validityPeriodHours": null, "allowedUses": null, "subject": null,
			"dnsNames": null, "ipAddresses": null, "uris": null, "maxPathLength": null,
			"earlyRenewalHours": zero, "isCaCertificate": f, "setSubjectKeyId": f, "setAuthorityKeyId": f,
		},
		// Upstream: every input but early_renewal_hours requires replacement.
		updatable: []string{"earlyRenewalHours"},
		computed:  []string{"certPem", "keyAlgorithm", "validityStartTime", "validityEndTime", "readyForRenewal"},
		secret:    []string{"privateKeyPem"},
		check:     checkCert,
		create:    createCert,
		renew:     dueForRenewal,
	}}
}

func checkPrivateKey(in resource.PropertyMap) []*pulumirpc.CheckFailure {
	var fs []*pulumirpc.CheckFailure
	if _, ok := in["algorithm"]; !ok {
		return append(fs, failure("algorithm", "algorithm is required"))
	}
	if known(in, "algorithm") {
		switch a := str(in, "algorithm"); a {
		case "RSA", "ECDSA", "ED25519":
		default:
			fs = append(fs, failure("algorithm", "algorithm must be one of RSA, ECDSA, ED25519, got %q", a))
		}
	}
	if known(in, "ecdsaCurve") {
		if _, ok := curves[str(in, "ecdsaCurve")]; !ok {
			fs = append(fs, failure("ecdsaCurve", "ecdsaCurve must be one of P224, P256, P384, P521, got %q", str(in, "ecdsaCurve")))
		}
	}
	return fs
}

func createPrivateKey(in resource.PropertyMap) (string, resource.PropertyMap, error) {
	var key crypto.Signer
	var block *pem.Block
	var err error
	switch str(in, "algorithm") {
	case "RSA":
		var k *rsa.PrivateKey
		if k, err = rsa.GenerateKey(rand.Reader, num(in, "rsaBits")); err == nil {
			key, block = k, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
		}
	case "ECDSA":
		var k *ecdsa.PrivateKey
		if k, err = ecdsa.GenerateKey(curves[str(in, "ecdsaCurve")], rand.Reader); err == nil {
			var der []byte
			der, err = x509.MarshalECPrivateKey(k)
			key, block = k, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
		}
	case "ED25519":
		var k ed25519.PrivateKey
		if _, k, err = ed25519.GenerateKey(rand.Reader); err == nil {
			var der []byte
			der, err = x509.MarshalPKCS8PrivateKey(k)
			key, block = k, &pem.Block{Type: "PRIVATE KEY", Bytes: der}
		}
	}
	if err != nil {
		return "", nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return "", nil, err
	}
	out := resource.PropertyMap{
		"privateKeyPem":      resource.NewProperty(string(pem.EncodeToMemory(block))),
		"privateKeyPemPkcs8": resource.NewProperty(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))),
		"publicKeyPem":       resource.NewProperty(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))),
		// x/crypto/ssh has no P-224: upstream leaves the OpenSSH forms empty for it.
		"privateKeyOpenssh":          resource.NewProperty(""),
		"publicKeyOpenssh":           resource.NewProperty(""),
		"publicKeyFingerprintMd5":    resource.NewProperty(""),
		"publicKeyFingerprintSha256": resource.NewProperty(""),
	}
	if sshPub, err := ssh.NewPublicKey(key.Public()); err == nil {
		sshKey, err := ssh.MarshalPrivateKey(key, "")
		if err != nil {
			return "", nil, err
		}
		out["privateKeyOpenssh"] = resource.NewProperty(string(pem.EncodeToMemory(sshKey)))
		out["publicKeyOpenssh"] = resource.NewProperty(string(ssh.MarshalAuthorizedKey(sshPub)))
		out["publicKeyFingerprintMd5"] = resource.NewProperty(ssh.FingerprintLegacyMD5(sshPub))
		out["publicKeyFingerprintSha256"] = resource.NewProperty(ssh.FingerprintSHA256(sshPub))
	}
	return hashForState(string(pub)), out, nil
}

// hashForState is upstream's resource ID of a key: hex SHA-1 of the trimmed DER public key.
func hashForState(v string) string {
	if v == "" {
		return ""
	}
	h := sha1.Sum([]byte(strings.TrimSpace(v))) //nolint:gosec // upstream's ID
	return hex.EncodeToString(h[:])
}

func checkCert(in resource.PropertyMap) []*pulumirpc.CheckFailure {
	var fs []*pulumirpc.CheckFailure
	for _, k := range []string{"privateKeyPem", "validityPeriodHours", "allowedUses"} {
		if _, ok := in[resource.PropertyKey(k)]; !ok {
			fs = append(fs, failure(k, "%s is required", k))
		}
	}
	if known(in, "allowedUses") {
		for _, u := range strs(in, "allowedUses") {
			if _, ok := keyUsages[u]; !ok {
				if _, ok := extKeyUsages[u]; !ok {
					fs = append(fs, failure("allowedUses", "unknown use %q (terraform-provider-tls names: digital_signature, cert_signing, server_auth, ...)", u))
				}
			}
		}
	}
	if known(in, "privateKeyPem") && str(in, "privateKeyPem") != "" {
		if _, err := parsePrivateKey(str(in, "privateKeyPem")); err != nil {
			fs = append(fs, failure("privateKeyPem", "%v", err))
		}
	}
	if known(in, "validityPeriodHours") && num(in, "validityPeriodHours") < 0 {
		fs = append(fs, failure("validityPeriodHours", "validityPeriodHours must not be negative"))
	}
	if known(in, "ipAddresses") {
		for _, ip := range strs(in, "ipAddresses") {
			if net.ParseIP(ip) == nil {
				fs = append(fs, failure("ipAddresses", "invalid IP address %q", ip))
			}
		}
	}
	return fs
}

func parsePrivateKey(s string) (crypto.Signer, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, fmt.Errorf("privateKeyPem: no PEM block")
	}
	var k any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("privateKeyPem: unsupported PEM type %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("privateKeyPem: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("privateKeyPem: %T is not a signing key", k)
	}
	return signer, nil
}

func keyAlgorithm(k crypto.Signer) string {
	switch k.(type) {
	case *rsa.PrivateKey:
		return "RSA"
	case *ecdsa.PrivateKey:
		return "ECDSA"
	case ed25519.PrivateKey, *ed25519.PrivateKey:
		return "ED25519"
	}
	return ""
}

func createCert(in resource.PropertyMap) (string, resource.PropertyMap, error) {
	key, err := parsePrivateKey(str(in, "privateKeyPem"))
	if err != nil {
		return "", nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return "", nil, err
	}
	start := now().UTC().Truncate(time.Second)
	end := start.Add(time.Duration(num(in, "validityPeriodHours")) * time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             start,
		NotAfter:              end,
		BasicConstraintsValid: true,
		IsCA:                  boolean(in, "isCaCertificate"),
		DNSNames:              strs(in, "dnsNames"),
	}
	if v, ok := in["maxPathLength"]; ok && v.IsNumber() && tmpl.IsCA {
		tmpl.MaxPathLen = int(v.NumberValue())
		tmpl.MaxPathLenZero = tmpl.MaxPathLen == 0
	}
	for _, u := range strs(in, "allowedUses") {
		if ku, ok := keyUsages[u]; ok {
			tmpl.KeyUsage |= ku
		} else {
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, extKeyUsages[u])
		}
	}
	for _, ip := range strs(in, "ipAddresses") {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	for _, s := range strs(in, "uris") {
		u, err := url.Parse(s)
		if err != nil {
			return "", nil, fmt.Errorf("uris: %w", err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	if v, ok := in["subject"]; ok && v.IsObject() {
		tmpl.Subject = subject(v.ObjectValue())
	}
	if boolean(in, "setSubjectKeyId") || boolean(in, "setAuthorityKeyId") {
		id, err := subjectKeyID(key.Public())
		if err != nil {
			return "", nil, err
		}
		if boolean(in, "setSubjectKeyId") {
			tmpl.SubjectKeyId = id
		}
		if boolean(in, "setAuthorityKeyId") { // self-signed: the authority is the subject
			tmpl.AuthorityKeyId = id
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return "", nil, err
	}
	return serial.String(), resource.PropertyMap{
		"certPem":           resource.NewProperty(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))),
		"keyAlgorithm":      resource.NewProperty(keyAlgorithm(key)),
		"validityStartTime": resource.NewProperty(start.Format(time.RFC3339)),
		"validityEndTime":   resource.NewProperty(end.Format(time.RFC3339)),
		"readyForRenewal":   resource.NewProperty(false),
	}, nil
}

func subject(m resource.PropertyMap) pkix.Name {
	one := func(k string) []string {
		if s := str(m, k); s != "" {
			return []string{s}
		}
		return nil
	}
	n := pkix.Name{
		CommonName:         str(m, "commonName"),
		SerialNumber:       str(m, "serialNumber"),
		Organization:       one("organization"),
		OrganizationalUnit: one("organizationalUnit"),
		Locality:           one("locality"),
		Province:           one("province"),
		Country:            one("country"),
		PostalCode:         one("postalCode"),
		StreetAddress:      strs(m, "streetAddresses"),
	}
	if e := str(m, "emailAddress"); e != "" { // upstream: the emailAddress attribute (OID 1.2.840.113549.1.9.1)
		n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: e})
	}
	return n
}

// subjectKeyID is upstream's: SHA-1 of the subjectPublicKey bit string (RFC 5280 4.2.1.2 (1)).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm        pkix.AlgorithmIdentifier
		SubjectPublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	h := sha1.Sum(spki.SubjectPublicKey.Bytes) //nolint:gosec // RFC 5280's method
	return h[:], nil
}

// dueForRenewal is upstream's plan modifier: once now is past validityEndTime less
// earlyRenewalHours, readyForRenewal changes and the certificate is replaced.
func dueForRenewal(olds, news resource.PropertyMap) []string {
	end, err := time.Parse(time.RFC3339, str(reveal(resource.NewProperty(olds)).ObjectValue(), "validityEndTime"))
	if err != nil {
		return nil
	}
	hours := 0
	if v, ok := news["earlyRenewalHours"]; ok && v.IsNumber() {
		hours = int(v.NumberValue())
	}
	if !now().Before(end.Add(-time.Duration(hours) * time.Hour)) {
		return []string{"readyForRenewal"}
	}
	return nil
}
