//go:build !linux

package kcp

import "errors"

// RSS returns each process's resident set size in bytes; Linux only.
func (c *Cluster) RSS() (map[string]int64, error) {
	return nil, errors.New("kcp: RSS is read from /proc (Linux only)")
}
