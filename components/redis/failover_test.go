package redis

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The failover test runs the component's own init script, Redis and Sentinel configuration and
// HAProxy configuration with real servers: three "pods" on the loopback addresses 127.0.0.2-4
// (each with the pod's ports, 6379 and 26379, of its own) and HAProxy in front. It needs
// redis-server, redis-cli and haproxy (Debian: apt-get install redis-server haproxy; .ci/run
// installs them). Without them it is skipped, except under CI=true, where it fails.

var podIPs = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}

// proc is a server process the test started; stop kills it and waits for it (again: no-op).
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) stop() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// testPod is one Redis pod: its address, its persistent data directory (the volume) and its
// Redis and Sentinel processes.
type testPod struct {
	ip, data          string
	redis, sentinel   *proc
	password, logsDir string
}

func requireBinaries(t *testing.T, names ...string) {
	t.Helper()
	// Debian installs haproxy in /usr/sbin, which is not on a user's PATH.
	t.Setenv("PATH", os.Getenv("PATH")+string(os.PathListSeparator)+"/usr/sbin")
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("%s not installed: the failover test needs Redis and HAProxy (apt-get install redis-server haproxy)", strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; under CI=true this is a failure, not a skip")
	}
	t.Skip(msg)
}

// start runs a server, its output in logsDir/name.log, stopped when the test ends.
func start(t *testing.T, logsDir, name string, env []string, args ...string) *proc {
	t.Helper()
	out, err := os.Create(filepath.Join(logsDir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Env = out, out, env
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	return p
}

// boot does what the kubelet does for a new pod: the init container's script in a fresh config
// directory (the emptyDir), then Redis and Sentinel on the generated files. The command-line
// options only move the pod to its loopback address and its data directory.
func (p *testPod) boot(t *testing.T, script string, gen int) string {
	t.Helper()
	conf := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "CONFIG_DIR=" + conf, "REDIS_PASSWORD=" + p.password, "REDISCLI_AUTH=" + p.password,
		"REDIS_HOST=" + p.ip, "REDIS_PEERS=" + strings.Join(podIPs, " "),
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("init script of %s: %v\n%s", p.ip, err, out)
	}
	t.Logf("init %s: %s", p.ip, strings.TrimSpace(string(out)))
	for _, f := range []string{"redis.conf", "sentinel.conf"} {
		fi, err := os.Stat(filepath.Join(conf, f))
		if err != nil {
			t.Fatalf("the init script wrote no %s: %v", f, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v; want a file only its owner reads: it holds the password", f, fi.Mode())
		}
	}
	name := fmt.Sprintf("%s-%d", p.ip, gen)
	p.redis = start(t, p.logsDir, name+"-redis", env, "redis-server", filepath.Join(conf, "redis.conf"), "--bind", p.ip, "--dir", p.data)
	p.sentinel = start(t, p.logsDir, name+"-sentinel", env, "redis-server", filepath.Join(conf, "sentinel.conf"), "--sentinel", "--bind", p.ip)
	for _, port := range []int{Port, SentinelPort} {
		addr := net.JoinHostPort(p.ip, strconv.Itoa(port))
		eventually(t, 10*time.Second, addr+" answers PING", func() error {
			_, err := do(addr, p.password, "PING")
			return err
		})
	}
	return string(out)
}

func (p *testPod) addr() string { return net.JoinHostPort(p.ip, strconv.Itoa(Port)) }

func (p *testPod) replication(t *testing.T) map[string]string {
	t.Helper()
	r, err := do(p.addr(), p.password, "INFO", "replication")
	if err != nil {
		return nil
	}
	return infoFields(r)
}

func TestRedisFailoverKeepsTheEndpointOnTheMaster(t *testing.T) {
	requireBinaries(t, "sh", "timeout", "redis-server", "redis-cli", "haproxy")
	args := Args{Replicas: 3}.withDefaults()
	script := initScript(args)
	password := rand.Text()
	logs := t.TempDir()
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, logs)
		}
	})
	for _, ip := range podIPs {
		for _, port := range []int{Port, SentinelPort} {
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(port)), time.Second); err == nil {
				c.Close()
				t.Fatalf("something already listens on %s:%d; the test needs the address to itself", ip, port)
			}
		}
	}

	// The StatefulSet starts the pods in order, each once the one before is up.
	pods := make([]*testPod, len(podIPs))
	for i, ip := range podIPs {
		pods[i] = &testPod{ip: ip, data: t.TempDir(), password: password, logsDir: logs}
		out := pods[i].boot(t, script, 0)
		if i == 0 && !strings.Contains(out, "starting as the master") {
			t.Fatalf("pod 0 of a fresh start is not the master: %s", out)
		}
		if i > 0 && !strings.Contains(out, "starting as a replica of "+podIPs[0]) {
			t.Fatalf("pod %d does not replicate pod 0: %s", i, out)
		}
	}
	// Steady state: the Sentinels know both replicas and each other.
	eventually(t, 30*time.Second, "the Sentinels know both replicas and each other", func() error {
		for _, p := range pods {
			r, err := do(net.JoinHostPort(p.ip, strconv.Itoa(SentinelPort)), password, "SENTINEL", "MASTER", masterName)
			if err != nil {
				return err
			}
			m := pairs(r)
			if m["num-slaves"] != "2" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("sentinel %s: %q replicas, %q other sentinels", p.ip, m["num-slaves"], m["num-other-sentinels"])
			}
		}
		return nil
	})

	// HAProxy with the component's configuration, but on loopback, with fixed addresses.
	listen, health := freePort(t), freePort(t)
	servers := make([]string, len(pods))
	for i, p := range pods {
		servers[i] = p.addr()
	}
	cfgFile := filepath.Join(t.TempDir(), "haproxy.cfg")
	// The cluster's HAProxy 3.2 starts each server out of rotation until its check passes. An
	// older HAProxy (Debian 12 has 2.6) has no init-state and counts every server up until its
	// first check: wait for the replicas' failed checks before the first write.
	startDown := haproxyAtLeast(t, 3, 1)
	cfg := haproxyConfig(proxyConfig{Listen: listen, Health: health, Servers: servers, StartDown: startDown})
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("haproxy", "-c", "-f", cfgFile).CombinedOutput(); err != nil {
		t.Fatalf("haproxy rejects the configuration: %v\n%s", err, out)
	}
	if startDown {
		// This HAProxy also takes the cluster's configuration as it is.
		clusterFile := filepath.Join(t.TempDir(), "cluster.cfg")
		if err := os.WriteFile(clusterFile, []byte(haproxyConfig(clusterProxyConfig(Args{Namespace: "data", Replicas: 3}))), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("haproxy", "-c", "-f", clusterFile).CombinedOutput(); err != nil {
			t.Fatalf("haproxy rejects the cluster's configuration: %v\n%s", err, out)
		}
	}
	start(t, logs, "haproxy", []string{"PATH=" + os.Getenv("PATH"), "REDIS_PASSWORD=" + password}, "haproxy", "-db", "-f", cfgFile)
	if !startDown {
		eventually(t, 10*time.Second, "HAProxy takes the replicas out of rotation", func() error {
			b, err := os.ReadFile(filepath.Join(logs, "haproxy.log"))
			for _, s := range []string{"redis/redis-1 is DOWN", "redis/redis-2 is DOWN"} {
				if err == nil && !strings.Contains(string(b), s) {
					err = fmt.Errorf("the log does not say %q", s)
				}
			}
			return err
		})
	}
	eventually(t, 10*time.Second, "HAProxy's /healthz answers 200", func() error {
		resp, err := http.Get("http://" + health + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})

	eventually(t, 30*time.Second, "a write through HAProxy", func() error {
		_, err := do(listen, password, "SET", "before-failover", "kept")
		return err
	})
	// Replication is asynchronous: wait until both replicas have the key, which is what a
	// failover can then keep.
	if n, err := do(listen, password, "WAIT", "2", "5000"); err != nil || n != int64(2) {
		t.Fatalf("WAIT 2 = %v, %v; want both replicas to acknowledge the write", n, err)
	}

	// The master's pod dies: its Redis and its Sentinel.
	pods[0].redis.stop()
	pods[0].sentinel.stop()
	killed := time.Now()
	var took time.Duration
	eventually(t, 60*time.Second, "a write through HAProxy after the master's loss", func() error {
		if _, err := do(listen, password, "SET", "after-failover", "written"); err != nil {
			return err
		}
		took = time.Since(killed)
		return nil
	})
	t.Logf("failover: %s from killing the master to the first successful write through HAProxy", took.Round(10*time.Millisecond))

	var master *testPod
	for _, p := range pods[1:] {
		if p.replication(t)["role"] == "master" {
			if master != nil {
				t.Fatalf("both %s and %s are masters", master.ip, p.ip)
			}
			master = p
		}
	}
	if master == nil {
		t.Fatal("no former replica is the master")
	}
	if got, err := do(listen, password, "GET", "before-failover"); err != nil || got != "kept" {
		t.Errorf("GET before-failover through HAProxy = %v, %v; want the value written before the failover", got, err)
	}
	sentinel1 := net.JoinHostPort(pods[1].ip, strconv.Itoa(SentinelPort))
	if r, err := do(sentinel1, password, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName); err != nil || fmt.Sprint(r) != fmt.Sprint([]any{master.ip, strconv.Itoa(Port)}) {
		t.Errorf("the Sentinels' master = %v, %v; want %s", r, err, master.addr())
	}

	// Pod 0 comes back on its volume: it must find the new master and follow it, not start a
	// second master.
	out := pods[0].boot(t, script, 1)
	if !strings.Contains(out, "starting as a replica of "+master.ip) {
		t.Errorf("the old master does not rejoin as a replica of %s: %s", master.ip, out)
	}
	eventually(t, 30*time.Second, "the old master replicates the new one", func() error {
		info := pods[0].replication(t)
		if info["role"] != "slave" || info["master_host"] != master.ip || info["master_link_status"] != "up" {
			return fmt.Errorf("INFO replication of %s: role %q master_host %q link %q", pods[0].ip, info["role"], info["master_host"], info["master_link_status"])
		}
		return nil
	})
	if got, err := do(pods[0].addr(), password, "GET", "after-failover"); err != nil || got != "written" {
		t.Errorf("the rejoined pod has after-failover = %v, %v; want the new master's data", got, err)
	}
}

// haproxyAtLeast says whether the installed HAProxy is at least version major.minor.
func haproxyAtLeast(t *testing.T, major, minor int) bool {
	t.Helper()
	out, err := exec.Command("haproxy", "-v").Output()
	if err != nil {
		t.Fatalf("haproxy -v: %v", err)
	}
	_, v, _ := strings.Cut(string(out), "version ")
	var x, y int
	if _, err := fmt.Sscanf(v, "%d.%d", &x, &y); err != nil {
		t.Fatalf("haproxy -v says %q: no version", out)
	}
	t.Logf("HAProxy %d.%d", x, y)
	return x > major || x == major && y >= minor
}

// eventually polls f until it succeeds, failing the test with f's last error after limit.
func eventually(t *testing.T, limit time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func dumpLogs(t *testing.T, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		t.Logf("--- %s (last lines)\n%s", filepath.Base(f), strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}

// do sends one command to a Redis server (after AUTH) on a new connection and returns the reply:
// a string, an int64, nil or a []any; an error reply is an error.
func do(addr, password string, args ...string) (any, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(3 * time.Second)); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	send := func(args ...string) (any, error) {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := io.WriteString(c, b.String()); err != nil {
			return nil, err
		}
		return readReply(r)
	}
	if _, err := send("AUTH", password); err != nil {
		return nil, fmt.Errorf("AUTH: %w", err)
	}
	return send(args...)
}

func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply")
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, errors.New(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$', '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		if line[0] == '$' {
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return nil, err
			}
			return string(buf[:n]), nil
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

// infoFields parses an INFO reply's key:value lines.
func infoFields(reply any) map[string]string {
	s, _ := reply.(string)
	out := map[string]string{}
	for _, l := range strings.Split(s, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// pairs turns a flat [key, value, ...] reply into a map.
func pairs(reply any) map[string]string {
	a, _ := reply.([]any)
	out := map[string]string{}
	for i := 0; i+1 < len(a); i += 2 {
		out[fmt.Sprint(a[i])] = fmt.Sprint(a[i+1])
	}
	return out
}
