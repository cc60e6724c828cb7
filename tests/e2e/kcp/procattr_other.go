//go:build !linux

package kcp

import "syscall"

// sysProcAttr puts each process in its own group, so Stop can signal the group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
