// Package kcp starts a real Kubernetes control plane for the end-to-end tests: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler v1.34.2 built from upstream
// sources, with nodes simulated by kwok (one per zone, Ready, pods reported Running with
// addresses, Job pods completed). Nothing runs in containers; the API server, its admission
// chain, validation and the controllers are the real ones.
//
// The binaries are built once per machine by build.sh in this folder into a cache folder keyed
// by version (BinDir). Start runs each cluster in its own temporary folder, on free loopback
// ports, and Stop ends every process it started.
//
// Network rule: every process talks to 127.0.0.0/8 only. The API server's "cluster" egress
// (service-backed webhooks and APIServices, node and pod proxies) goes through a CONNECT proxy
// in the test process that forwards loopback targets and targets mapped with MapService, and
// refuses the rest. Node and pod addresses are fake; nothing dials them.
package kcp

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Versions of the control plane build.sh builds; the cache folder is named after them.
const (
	KubernetesVersion = "v1.34.2"
	KwokVersion       = "v0.8.0"
)

// Binaries are the programs build.sh puts in BinDir.
var Binaries = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "etcd", "kwok"}

// ErrNotBuilt is wrapped by BinDir's and Start's error when the binaries have not been built.
var ErrNotBuilt = errors.New("the e2e control plane is not built")

// Options shape a cluster. The zero value is three zones a, b and c.
type Options struct {
	// BinDir holds the binaries; empty is BinDir().
	BinDir string
	// Dir is where PKI, etcd data, kubeconfigs and logs go; empty is a new temporary folder that
	// Stop removes (unless KeepDir).
	Dir string
	// KeepDir keeps Dir after Stop (logs for a failed test). GROUNDWORK_E2E_KEEP=1 does the same.
	KeepDir bool
	// Zones are the nodes' topology.kubernetes.io/zone values, one node per zone, named
	// "node-<zone>". Empty is a, b, c.
	Zones []string
	// Region is the nodes' topology.kubernetes.io/region; empty is "local".
	Region string
	// NodeCPU, NodeMemory and NodePods are each node's capacity; empty/zero is 32 CPUs, 256Gi
	// and 250 pods, room for the whole platform in one zone.
	NodeCPU, NodeMemory string
	NodePods            int
	// StorageClass is the name of the default StorageClass the cluster gets, whose claims the
	// harness's provisioner binds; empty is "standard" (the program's default for cloud existing).
	StorageClass string
	// AdvertiseAddress is the API server's advertised address (the kubernetes Service's
	// endpoint). It may not be loopback (Endpoints validation refuses it) and nothing connects to
	// it. Empty is this host's first non-loopback IPv4 address (traffic to it stays on the host),
	// or 192.0.2.1 (TEST-NET-1) when there is none.
	AdvertiseAddress string
	// Logf receives progress lines (t.Logf); nil is silent.
	Logf func(format string, args ...any)
}

// Cluster is a running control plane.
type Cluster struct {
	// Kubeconfig is an admin kubeconfig (system:masters, credentials embedded); KubeconfigPath
	// is the same, on disk.
	Kubeconfig     []byte
	KubeconfigPath string
	// Config, Client and Dynamic talk to the API server as admin.
	Config  *rest.Config
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	// Dir is the cluster's folder: pki/, etcd/, logs/, kubeconfigs.
	Dir string
	// Nodes are the node names, in the order of Zones; Zones their zones.
	Nodes, Zones []string
	// StorageClass is the default StorageClass.
	StorageClass string
	// ServiceCIDR, PodCIDR and NodeCIDR are the (fake) address ranges of Services, pods and nodes.
	ServiceCIDR, PodCIDR, NodeCIDR string
	// StartupTime is how long Start took.
	StartupTime time.Duration

	opts    Options
	pki     *pki
	egress  *egress
	procs   []*proc
	cancel  context.CancelFunc
	bg      sync.WaitGroup
	stopped sync.Once

	mu      sync.Mutex
	closers []func() // in-process servers (WebhookServer)
	cleanup []func() // after the processes end
}

const (
	serviceCIDR    = "10.96.0.0/16"
	podCIDR        = "10.244.0.0/16"
	nodeCIDR       = "10.0.0.0/24"
	provisionerKey = "groundwork.e2e/kcp-provisioner"
)

// BinDir returns the folder build.sh builds into:
// ${GROUNDWORK_E2E_CACHE:-$HOME/.cache/groundwork-e2e}/kcp-<k8s>-kwok-<kwok>-<hash of go.sum files>/bin,
// or GROUNDWORK_E2E_KCP_BIN when set. The error wraps ErrNotBuilt when a binary is missing.
func BinDir() (string, error) {
	dir := os.Getenv("GROUNDWORK_E2E_KCP_BIN")
	if dir == "" {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			return "", fmt.Errorf("%w: cannot find this package's folder; set GROUNDWORK_E2E_KCP_BIN", ErrNotBuilt)
		}
		src := filepath.Dir(file)
		h := sha256.New()
		for _, f := range []string{"src/go.sum", "kwoksrc/go.sum"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				return "", fmt.Errorf("%w: %v; set GROUNDWORK_E2E_KCP_BIN", ErrNotBuilt, err)
			}
			h.Write(b)
		}
		cache := os.Getenv("GROUNDWORK_E2E_CACHE")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("%w: %v", ErrNotBuilt, err)
			}
			cache = filepath.Join(home, ".cache", "groundwork-e2e")
		}
		dir = filepath.Join(cache, fmt.Sprintf("kcp-%s-kwok-%s-%s", KubernetesVersion, KwokVersion, hex.EncodeToString(h.Sum(nil))[:12]), "bin")
	}
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil && os.Getenv("GROUNDWORK_E2E_KCP_BIN") == "" {
		return dir, fmt.Errorf("%w in %s: run tests/e2e/kcp/build.sh (20-40 minutes cold)", ErrNotBuilt, dir)
	}
	for _, b := range Binaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return dir, fmt.Errorf("%w: %s missing in %s: run tests/e2e/kcp/build.sh (20-40 minutes cold)", ErrNotBuilt, b, dir)
		}
	}
	return dir, nil
}

// Start starts a control plane and returns when the API server is ready, the nodes are Ready
// and the default ServiceAccount exists. ctx bounds the start only (2 minutes when it has no
// deadline); the cluster runs until Stop. On error nothing is left running.
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	t0 := time.Now()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
	}
	o = withDefaults(o)
	if o.BinDir == "" {
		if o.BinDir, err = BinDir(); err != nil {
			return nil, err
		}
	}
	for _, z := range o.Zones {
		if z == "" || strings.ToLower(z) != z || strings.ContainsAny(z, " /_") {
			return nil, fmt.Errorf("kcp: zone %q cannot name a node (lower-case DNS label characters only)", z)
		}
	}
	dir := o.Dir
	if dir == "" {
		// Short, because the egress socket's path must fit a sockaddr_un (108 bytes).
		if dir, err = os.MkdirTemp("", "kcp-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c = &Cluster{
		Dir: dir, Zones: o.Zones, StorageClass: o.StorageClass,
		ServiceCIDR: serviceCIDR, PodCIDR: podCIDR, NodeCIDR: nodeCIDR, opts: o,
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("kcp: %w (cluster folder %s kept)", err, dir)
			c.opts.KeepDir = true
			c.Stop()
			c = nil
		}
	}()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return c, err
	}

	if c.pki, err = newPKI(filepath.Join(dir, "pki")); err != nil {
		return c, err
	}
	ports, err := freePorts(6)
	if err != nil {
		return c, err
	}
	etcdPort, peerPort, apiPort, kcmPort, schedPort, kwokPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	kubeconfigs := map[string]string{}
	for _, user := range []string{"admin", "controller-manager", "scheduler", "kwok"} {
		b, err := c.kubeconfig(server, user)
		if err != nil {
			return c, err
		}
		path := filepath.Join(dir, user+".kubeconfig")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return c, err
		}
		kubeconfigs[user] = path
		if user == "admin" {
			c.Kubeconfig, c.KubeconfigPath = b, path
		}
	}

	sock := filepath.Join(dir, "egress.sock")
	if len(sock) > 100 { // a sockaddr_un holds 108 bytes: a long Options.Dir gets a short folder
		short, err := os.MkdirTemp("", "kcp-egress-")
		if err != nil {
			return c, err
		}
		c.cleanup = append(c.cleanup, func() { _ = os.RemoveAll(short) })
		sock = filepath.Join(short, "egress.sock")
	}
	if c.egress, err = startEgress(sock); err != nil {
		return c, err
	}
	egressConfig := filepath.Join(dir, "egress-selector.yaml")
	if err := os.WriteFile(egressConfig, []byte(`apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: `+c.egress.sock+"\n"), 0o600); err != nil {
		return c, err
	}

	bin := func(name string) string { return filepath.Join(o.BinDir, name) }
	etcd, err := c.start("etcd", bin("etcd"), logs, nil,
		"-data-dir", filepath.Join(dir, "etcd"),
		"-listen-client-url", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"-listen-peer-url", fmt.Sprintf("http://127.0.0.1:%d", peerPort))
	if err != nil {
		return c, err
	}
	if err := c.waitHTTP(ctx, etcd, fmt.Sprintf("http://127.0.0.1:%d/health", etcdPort)); err != nil {
		return c, err
	}
	c.logf("etcd ready after %s", time.Since(t0).Round(time.Millisecond))

	p := c.pki.path
	// SSL_CERT_FILE: a Service-backed webhook without a caBundle (one cert-manager's cainjector
	// would fill) is verified against the system roots, here the cluster's CA, which signs the
	// stand-in webhook server's certificates (Webhooks).
	api, err := c.start("kube-apiserver", bin("kube-apiserver"), logs, []string{"SSL_CERT_FILE=" + p("ca.crt")},
		"--advertise-address="+o.AdvertiseAddress,
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", etcdPort),
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(apiPort),
		"--tls-cert-file="+p("apiserver.crt"), "--tls-private-key-file="+p("apiserver.key"),
		"--client-ca-file="+p("ca.crt"),
		"--kubelet-client-certificate="+p("apiserver-kubelet-client.crt"), "--kubelet-client-key="+p("apiserver-kubelet-client.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p("sa.pub"), "--service-account-signing-key-file="+p("sa.key"),
		"--service-cluster-ip-range="+serviceCIDR,
		"--authorization-mode=Node,RBAC",
		"--allow-privileged=true",
		"--egress-selector-config-file="+egressConfig,
		"--requestheader-client-ca-file="+p("ca.crt"), "--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file="+p("front-proxy-client.crt"), "--proxy-client-key-file="+p("front-proxy-client.key"),
		"--profiling=false")
	if err != nil {
		return c, err
	}
	if c.Config, err = clientcmd.RESTConfigFromKubeConfig(c.Kubeconfig); err != nil {
		return c, err
	}
	c.Config.QPS, c.Config.Burst = 100, 200
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return c, err
	}
	if c.Dynamic, err = dynamic.NewForConfig(c.Config); err != nil {
		return c, err
	}
	if err := c.poll(ctx, api, "the API server's /readyz", func(ctx context.Context) (bool, error) {
		_, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil, err
	}); err != nil {
		return c, err
	}
	c.logf("kube-apiserver ready after %s", time.Since(t0).Round(time.Millisecond))

	kcm, err := c.start("kube-controller-manager", bin("kube-controller-manager"), logs, nil,
		"--kubeconfig="+kubeconfigs["controller-manager"],
		"--authentication-kubeconfig="+kubeconfigs["controller-manager"],
		"--authorization-kubeconfig="+kubeconfigs["controller-manager"],
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--leader-elect=false",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+p("sa.key"),
		"--root-ca-file="+p("ca.crt"),
		"--cluster-signing-cert-file="+p("ca.crt"), "--cluster-signing-key-file="+p("ca.key"),
		"--service-cluster-ip-range="+serviceCIDR,
		"--controllers=*,bootstrapsigner,tokencleaner",
		"--pvclaimbinder-sync-period=2s",
		"--profiling=false")
	if err != nil {
		return c, err
	}
	sched, err := c.start("kube-scheduler", bin("kube-scheduler"), logs, nil,
		"--kubeconfig="+kubeconfigs["scheduler"],
		"--authentication-kubeconfig="+kubeconfigs["scheduler"],
		"--authorization-kubeconfig="+kubeconfigs["scheduler"],
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort),
		"--leader-elect=false")
	if err != nil {
		return c, err
	}
	kwokConfig := filepath.Join(dir, "kwok.yaml")
	if err := writeKwokConfig(kwokConfig, kwokPort); err != nil {
		return c, err
	}
	kwok, err := c.start("kwok", bin("kwok"), logs, nil,
		"--config="+kwokConfig,
		"--kubeconfig="+kubeconfigs["kwok"],
		"--manage-nodes-with-annotation-selector="+kwokNodeAnnotation+"=fake",
		"--node-ip=10.0.0.10", "--node-port="+strconv.Itoa(kwokPort),
		"--server-address="+fmt.Sprintf("127.0.0.1:%d", kwokPort),
		"--cidr="+podCIDR, "--node-lease-duration-seconds=40")
	if err != nil {
		return c, err
	}
	if err := c.waitHTTP(ctx, kcm, fmt.Sprintf("https://127.0.0.1:%d/healthz", kcmPort)); err != nil {
		return c, err
	}
	if err := c.waitHTTP(ctx, sched, fmt.Sprintf("https://127.0.0.1:%d/healthz", schedPort)); err != nil {
		return c, err
	}
	if err := c.waitHTTP(ctx, kwok, fmt.Sprintf("http://127.0.0.1:%d/healthz", kwokPort)); err != nil {
		return c, err
	}
	c.logf("controller-manager, scheduler and kwok healthy after %s", time.Since(t0).Round(time.Millisecond))

	if err := c.createNodes(ctx); err != nil {
		return c, err
	}
	if err := c.poll(ctx, kwok, "the nodes Ready", func(ctx context.Context) (bool, error) {
		return c.nodesReady(ctx)
	}); err != nil {
		return c, err
	}
	c.logf("%d nodes Ready after %s", len(c.Nodes), time.Since(t0).Round(time.Millisecond))

	bgctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	if err := c.startProvisioner(ctx, bgctx); err != nil {
		return c, err
	}
	if err := c.poll(ctx, kcm, "the default ServiceAccount", func(ctx context.Context) (bool, error) {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", getOpts)
		return err == nil, err
	}); err != nil {
		return c, err
	}
	c.StartupTime = time.Since(t0)
	c.logf("control plane up in %s (folder %s)", c.StartupTime.Round(time.Millisecond), dir)
	return c, nil
}

func withDefaults(o Options) Options {
	if len(o.Zones) == 0 {
		o.Zones = []string{"a", "b", "c"}
	}
	if o.Region == "" {
		o.Region = "local"
	}
	if o.NodeCPU == "" {
		o.NodeCPU = "32"
	}
	if o.NodeMemory == "" {
		o.NodeMemory = "256Gi"
	}
	if o.NodePods == 0 {
		o.NodePods = 250
	}
	if o.StorageClass == "" {
		o.StorageClass = "standard"
	}
	if o.AdvertiseAddress == "" {
		o.AdvertiseAddress = hostAddress()
	}
	if os.Getenv("GROUNDWORK_E2E_KEEP") == "1" {
		o.KeepDir = true
	}
	return o
}

// hostAddress is this host's first non-loopback IPv4 address: the API server advertises it in
// the kubernetes Service's endpoints, where a loopback address is refused. Nothing connects to
// it, and a connection would stay on this host. 192.0.2.1 (TEST-NET-1) when there is none.
func hostAddress() string {
	ifaces, err := net.Interfaces()
	if err == nil {
		for _, ifc := range ifaces {
			if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
				continue
			}
			addrs, err := ifc.Addrs()
			if err != nil {
				continue
			}
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
					return n.IP.String()
				}
			}
		}
	}
	return "192.0.2.1"
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (c *Cluster) logf(format string, args ...any) {
	if c.opts.Logf != nil {
		c.opts.Logf("kcp: "+format, args...)
	}
}

// kubeconfig is a kubeconfig for user (a client certificate of the PKI), credentials embedded.
func (c *Cluster) kubeconfig(server, user string) ([]byte, error) {
	crt, err := os.ReadFile(c.pki.path(user + ".crt"))
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(c.pki.path(user + ".key"))
	if err != nil {
		return nil, err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kcp"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: c.pki.caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: crt, ClientKeyData: key}
	cfg.Contexts["kcp"] = &clientcmdapi.Context{Cluster: "kcp", AuthInfo: user}
	cfg.CurrentContext = "kcp"
	return clientcmd.Write(*cfg)
}

func (c *Cluster) start(name, bin, logDir string, env []string, args ...string) (*proc, error) {
	p, err := startProc(name, bin, logDir, env, args...)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// running returns the first exit among the cluster's processes, or nil.
func (c *Cluster) running() error {
	for _, p := range c.procs {
		if err := p.exited(); err != nil {
			return err
		}
	}
	return nil
}

// poll calls fn every 100 ms until it returns true, a process exits or ctx ends; the error
// then names what it waited for, fn's last error and the last lines of who's log.
func (c *Cluster) poll(ctx context.Context, who *proc, what string, fn func(context.Context) (bool, error)) error {
	var last error
	for {
		if err := c.running(); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := fn(cctx)
		cancel()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s (last error: %v); last lines of %s:\n%s", what, last, who.log, tail(who.log, 15))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitHTTP waits for url to answer 200 (loopback only; TLS not verified: the components'
// self-signed serving certificates).
func (c *Cluster) waitHTTP(ctx context.Context, who *proc, url string) error {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback health checks of the components' self-signed endpoints
	defer hc.CloseIdleConnections()
	return c.poll(ctx, who, who.name+" at "+url, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("%s: %s", url, resp.Status)
		}
		return true, nil
	})
}

// MapService has the API server's cluster egress send connections for from (a ClusterIP
// "ip:port", as the API server dials a Service-backed webhook or APIService) to to, a loopback
// "127.x.y.z:port" (a stand-in server in the test).
func (c *Cluster) MapService(from, to string) error { return c.egress.mapTarget(from, to) }

// RefusedEgress lists the targets the egress proxy refused so far (neither loopback nor mapped).
func (c *Cluster) RefusedEgress() []string { return c.egress.refusedTargets() }

// LogTails returns the last n lines of each process's log, for a failed test's output.
func (c *Cluster) LogTails(n int) string {
	var b strings.Builder
	for _, p := range c.procs {
		fmt.Fprintf(&b, "--- %s (%s)\n%s\n", p.name, p.log, tail(p.log, n))
	}
	return b.String()
}

// Stop ends every process of the cluster (SIGTERM, then SIGKILL after 10 s), newest first,
// stops the provisioner and the egress proxy, and removes the cluster's folder unless it is
// kept. It may be called more than once.
func (c *Cluster) Stop() {
	if c == nil {
		return
	}
	c.stopped.Do(func() {
		if c.cancel != nil {
			c.cancel()
		}
		c.mu.Lock()
		for _, f := range c.closers {
			f()
		}
		c.mu.Unlock()
		c.bg.Wait()
		for i := len(c.procs) - 1; i >= 0; i-- {
			c.procs[i].stop(10 * time.Second)
		}
		if c.egress != nil {
			c.egress.close()
		}
		for _, f := range c.cleanup {
			f()
		}
		if !c.opts.KeepDir && c.opts.Dir == "" {
			_ = os.RemoveAll(c.Dir)
		}
	})
}

// Pids are the process ids of the cluster's processes (each leads its own process group).
func (c *Cluster) Pids() []int {
	var pids []int
	for _, p := range c.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}
