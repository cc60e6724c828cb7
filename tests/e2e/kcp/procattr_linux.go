package kcp

import "syscall"

// sysProcAttr puts each process in its own group (Stop signals the group) and has the kernel
// kill it if the test process dies first, so a crashed or timed-out test leaves nothing behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
