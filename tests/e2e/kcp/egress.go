package kcp

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// egress is the API server's "cluster" egress (--egress-selector-config-file): an HTTP CONNECT
// proxy on a unix socket, run in the test process. Through it the API server reaches
// service-backed webhooks and APIServices, node and pod proxies, logs and exec. It forwards a
// target only when it is a loopback address or when the test mapped it (MapService) to a
// loopback one; it answers 403 to everything else, so the API server never dials a ClusterIP,
// pod IP or node IP (which on these machines would leave the host).
type egress struct {
	sock string
	l    net.Listener

	mu       sync.Mutex
	mappings map[string]string // "ip:port" -> "127.x.y.z:port"
	refused  []string
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

func startEgress(sock string) (*egress, error) {
	_ = os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	e := &egress{sock: sock, l: l, mappings: map[string]string{}, conns: map[net.Conn]struct{}{}}
	e.wg.Add(1)
	go e.serve()
	return e, nil
}

// mapTarget routes CONNECTs to from ("ip:port") to to, which must be a loopback "ip:port".
func (e *egress) mapTarget(from, to string) error {
	if _, _, err := net.SplitHostPort(from); err != nil {
		return fmt.Errorf("MapService: %q is not ip:port: %w", from, err)
	}
	if !isLoopback(to) {
		return fmt.Errorf("MapService: target %q is not a loopback ip:port", to)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mappings[from] = to
	return nil
}

// refusedTargets are the targets answered 403, in order.
func (e *egress) refusedTargets() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.refused...)
}

func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// resolve returns where a CONNECT to target may go, or "" when it must be refused.
func (e *egress) resolve(target string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if to, ok := e.mappings[target]; ok {
		return to
	}
	if isLoopback(target) {
		return target
	}
	e.refused = append(e.refused, target)
	return ""
}

func (e *egress) serve() {
	defer e.wg.Done()
	for {
		c, err := e.l.Accept()
		if err != nil {
			return
		}
		e.mu.Lock()
		e.conns[c] = struct{}{}
		e.mu.Unlock()
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.handle(c)
			e.mu.Lock()
			delete(e.conns, c)
			e.mu.Unlock()
		}()
	}
}

func (e *egress) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect {
		fmt.Fprintf(c, "HTTP/1.1 400 Bad Request\r\n\r\n")
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	to := e.resolve(req.Host)
	if to == "" {
		fmt.Fprintf(c, "HTTP/1.1 403 groundwork e2e egress: %s is neither loopback nor mapped (simulated cluster network, no real pods)\r\n\r\n", req.Host)
		return
	}
	up, err := net.DialTimeout("tcp", to, 5*time.Second)
	if err != nil {
		fmt.Fprintf(c, "HTTP/1.1 502 groundwork e2e egress: %v\r\n\r\n", err)
		return
	}
	defer up.Close()
	e.mu.Lock()
	e.conns[up] = struct{}{}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.conns, up)
		e.mu.Unlock()
	}()
	fmt.Fprintf(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, br)
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(c, up)
	_ = c.Close()
	<-done
}

// close stops accepting, closes open tunnels and waits for their goroutines.
func (e *egress) close() {
	_ = e.l.Close()
	e.mu.Lock()
	for c := range e.conns {
		_ = c.Close()
	}
	e.mu.Unlock()
	e.wg.Wait()
	_ = os.Remove(e.sock)
}
