package kcp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// pki is the control plane's certificates, made in-process for each cluster and written as PEM
// files under dir: one ECDSA CA signs the API server's serving certificate and every client
// certificate; sa.key/sa.pub sign and verify service-account tokens.
type pki struct {
	dir   string
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
	caPEM []byte

	mu     sync.Mutex
	serial int64
}

// newPKI writes ca.{crt,key}, apiserver.{crt,key}, one client pair per entry of clients
// (file name -> subject) and sa.{key,pub} into dir.
func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{dir: dir, serial: 1}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "groundwork-e2e-ca"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
	}
	ca, der, err := p.sign(tmpl, &k.PublicKey, nil, k)
	if err != nil {
		return nil, err
	}
	p.ca, p.caKey = ca, k
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := p.write("ca.crt", p.caPEM, 0o644); err != nil {
		return nil, err
	}
	if err := p.writeKey("ca.key", k); err != nil {
		return nil, err
	}

	if _, _, err := p.leaf("apiserver", pkix.Name{CommonName: "kube-apiserver"},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 96, 0, 1)}); err != nil {
		return nil, err
	}
	clients := map[string]pkix.Name{
		"admin":                    {CommonName: "kubernetes-admin", Organization: []string{"system:masters"}},
		"controller-manager":       {CommonName: "system:kube-controller-manager"},
		"scheduler":                {CommonName: "system:kube-scheduler"},
		"kwok":                     {CommonName: "kwok-controller", Organization: []string{"system:masters"}},
		"front-proxy-client":       {CommonName: "front-proxy-client"},
		"apiserver-kubelet-client": {CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
	}
	for file, subject := range clients {
		if _, _, err := p.leaf(file, subject, nil, nil); err != nil {
			return nil, err
		}
	}

	sa, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	priv, err := x509.MarshalPKCS8PrivateKey(sa)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := p.write("sa.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}), 0o600); err != nil {
		return nil, err
	}
	if err := p.write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

func (p *pki) write(name string, b []byte, mode os.FileMode) error {
	return os.WriteFile(p.path(name), b, mode)
}

func (p *pki) writeKey(name string, k *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return err
	}
	return p.write(name, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}

func (p *pki) sign(tmpl *x509.Certificate, pub any, parent *x509.Certificate, priv any) (*x509.Certificate, []byte, error) {
	p.mu.Lock()
	p.serial++
	tmpl.SerialNumber = big.NewInt(p.serial)
	p.mu.Unlock()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(30 * 24 * time.Hour)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		return nil, nil, fmt.Errorf("signing %q: %w", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	return c, der, err
}

// leaf writes file.crt and file.key: a serving certificate when dnsNames or ips are given, a
// client certificate otherwise. It returns the PEM of both.
func (p *pki) leaf(file string, subject pkix.Name, dnsNames []string, ips []net.IP) (certPEM, keyPEM []byte, err error) {
	certPEM, keyPEM, err = p.issue(subject, dnsNames, ips)
	if err != nil {
		return nil, nil, err
	}
	if err := p.write(file+".crt", certPEM, 0o644); err != nil {
		return nil, nil, err
	}
	if err := p.write(file+".key", keyPEM, 0o600); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// issue makes a key pair and a certificate signed by the CA, in PEM, without writing them.
func (p *pki) issue(subject pkix.Name, dnsNames []string, ips []net.IP) (certPEM, keyPEM []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	t := &x509.Certificate{Subject: subject, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	if len(dnsNames) > 0 || len(ips) > 0 {
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		t.DNSNames, t.IPAddresses = dnsNames, ips
	} else {
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	_, der, err := p.sign(t, &k.PublicKey, p.ca, p.caKey)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn} }
