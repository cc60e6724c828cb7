package kcp

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RSS returns each process's resident set size in bytes (VmRSS of /proc/<pid>/status).
func (c *Cluster) RSS() (map[string]int64, error) {
	out := map[string]int64{}
	for _, p := range c.procs {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		if err != nil {
			return nil, err
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if err != nil {
					f.Close()
					return nil, fmt.Errorf("%s: VmRSS %q: %w", p.name, rest, err)
				}
				out[p.name] = kb << 10
			}
		}
		f.Close()
	}
	return out, nil
}
