//go:build !linux

package clickhousetest

import "syscall"

// sysProcAttr puts the server in its own process group; without Linux's
// parent-death signal a server can outlive a test binary that crashes.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
