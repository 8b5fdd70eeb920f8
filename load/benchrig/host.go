package benchrig

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// HostInfo is what a benchmark's header says about the machine it ran on.
type HostInfo struct {
	CPUs    int
	Model   string // from /proc/cpuinfo, or "unknown CPU"
	Kernel  string // "kernel 6.1.0-…", or "unknown kernel"
	Version string // `bin version`, or "tollgate"
	LoadAvg string // the 1, 5 and 15 minute load averages; empty when unreadable
}

// Host reads the machine's description, and the version of the tollgate
// binary at bin.
func Host(bin string) HostInfo {
	h := HostInfo{CPUs: runtime.NumCPU(), Model: "unknown CPU", Kernel: "unknown kernel", Version: "tollgate"}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				h.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = "kernel " + strings.TrimSpace(string(data))
	}
	if out, err := exec.Command(bin, "version").Output(); err == nil {
		h.Version = strings.TrimSpace(string(out))
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) >= 3 {
			h.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return h
}

// CheckBinary reports a tollgate binary that is missing or not
// executable, telling how to build it; target is the make target that
// builds it first ("bench-cluster").
func CheckBinary(bin, target string) error {
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s not found or not executable: build it with 'make build' (make %s does), or set TOLLGATE_BIN", bin, target)
	}
	return nil
}
