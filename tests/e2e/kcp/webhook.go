package kcp

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// AdmissionRequest is one request the stand-in webhook server answered.
type AdmissionRequest struct {
	// Path is the URL path the API server called (the webhook's clientConfig.service.path).
	Path string
	// ServerName is the TLS server name the API server asked for (<service>.<namespace>.svc).
	ServerName string
	Operation  string
	Kind       schema.GroupVersionKind
	Namespace  string
	Name       string
}

// WebhookServer is a stand-in admission webhook server on loopback TLS that allows every
// request (mutating webhooks get no patch) and records it. Fake pods serve nothing, so a test
// maps the webhook configurations' Services to it (MapWebhooks) and the product's webhooks
// keep their failure policies.
//
// Its certificate for each server name is issued by the cluster's CA on demand. The API server
// trusts that CA for a webhook whose caBundle is empty (as before cert-manager's cainjector
// fills it); for a webhook with a caBundle of its own, give the server that CA's serving pair
// with AddCertificate (for instance from the Secret the chart generated).
type WebhookServer struct {
	// Addr is the server's "127.0.0.1:port".
	Addr string

	c   *Cluster
	srv *http.Server

	mu       sync.Mutex
	certs    map[string]*tls.Certificate
	requests []AdmissionRequest
}

// StartWebhookServer starts the stand-in webhook server; Cluster.Stop stops it.
func (c *Cluster) StartWebhookServer() (*WebhookServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	w := &WebhookServer{Addr: l.Addr().String(), c: c, certs: map[string]*tls.Certificate{}}
	w.srv = &http.Server{Handler: w, TLSConfig: &tls.Config{GetCertificate: w.certificate, MinVersion: tls.VersionTLS12}}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		_ = w.srv.ServeTLS(l, "", "")
	}()
	c.mu.Lock()
	c.closers = append(c.closers, func() { _ = w.srv.Close() })
	c.mu.Unlock()
	return w, nil
}

// AddCertificate has the server present certPEM/keyPEM to clients asking for serverName.
func (w *WebhookServer) AddCertificate(serverName string, certPEM, keyPEM []byte) error {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("webhook certificate for %s: %w", serverName, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.certs[serverName] = &cert
	return nil
}

func (w *WebhookServer) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := hello.ServerName
	if name == "" {
		name = "localhost"
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.certs[name]; ok {
		return c, nil
	}
	var dns []string
	var ips []net.IP
	if ip := net.ParseIP(name); ip != nil {
		ips = []net.IP{ip}
	} else {
		dns = []string{name}
	}
	certPEM, keyPEM, err := w.c.pki.issue(pkixName(name), dns, ips)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	w.certs[name] = &cert
	return &cert, nil
}

// Requests returns the requests answered so far.
func (w *WebhookServer) Requests() []AdmissionRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]AdmissionRequest(nil), w.requests...)
}

// ServeHTTP answers an AdmissionReview with allowed: true.
func (w *WebhookServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(rw, fmt.Sprintf("not an AdmissionReview: %v", err), http.StatusBadRequest)
		return
	}
	req := review.Request
	rec := AdmissionRequest{
		Path: r.URL.Path, Operation: string(req.Operation),
		Kind:      schema.GroupVersionKind{Group: req.Kind.Group, Version: req.Kind.Version, Kind: req.Kind.Kind},
		Namespace: req.Namespace, Name: req.Name,
	}
	if r.TLS != nil {
		rec.ServerName = r.TLS.ServerName
	}
	w.mu.Lock()
	w.requests = append(w.requests, rec)
	w.mu.Unlock()
	out := admissionv1.AdmissionReview{
		TypeMeta: review.TypeMeta,
		Response: &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true},
	}
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(out)
}

// MapWebhooks maps the Service of every webhook of every Validating- and
// MutatingWebhookConfiguration (clientConfig.service) to w: the API server's calls to
// <ClusterIP>:<port> reach the stand-in. Call it again after new configurations or Services
// appear; it returns the "namespace/name:port" of the Services it mapped, and skips webhooks
// whose Service does not exist yet.
func (c *Cluster) MapWebhooks(ctx context.Context, w *WebhookServer) ([]string, error) {
	var refs []*admissionregistrationv1.ServiceReference
	vs, err := c.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, cfg := range vs.Items {
		for _, h := range cfg.Webhooks {
			refs = append(refs, h.ClientConfig.Service)
		}
	}
	ms, err := c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, cfg := range ms.Items {
		for _, h := range cfg.Webhooks {
			refs = append(refs, h.ClientConfig.Service)
		}
	}
	seen := map[string]bool{}
	var mapped []string
	for _, ref := range refs {
		if ref == nil {
			continue // clientConfig.url: the API server dials it directly
		}
		port := int32(443)
		if ref.Port != nil {
			port = *ref.Port
		}
		key := fmt.Sprintf("%s/%s:%d", ref.Namespace, ref.Name, port)
		if seen[key] {
			continue
		}
		seen[key] = true
		svc, err := c.Client.CoreV1().Services(ref.Namespace).Get(ctx, ref.Name, getOpts)
		if err != nil {
			continue
		}
		for _, ip := range svc.Spec.ClusterIPs {
			if ip == "" || strings.EqualFold(ip, "None") {
				continue
			}
			if err := c.MapService(net.JoinHostPort(ip, strconv.Itoa(int(port))), w.Addr); err != nil {
				return mapped, err
			}
		}
		mapped = append(mapped, key)
	}
	return mapped, nil
}
