// Package benchrig is the rig the benchmark commands under load/cmd
// (benchcluster, benchpipeline) run on: what they have in common besides
// the load itself.
//
// It owns reading settings from an environment lookup (Settings), starting,
// waiting for and stopping child processes with their logs (Proc), reading
// their CPU time from /proc (MarkCPU), an in-process upstream answering
// 200 "ok", nearest-rank percentiles and targets (Summarize, Bound), the
// closing summary table (Summary), what every run has (Rig: its writers,
// temporary directory, HTTP client and cleanups) and a command's main
// short of os.Exit: settings errors, signals and exit statuses (Main,
// Run).
// The load generators live in package load.
//
// It must never read the process environment or flags itself, call
// os.Exit or print anything but to the writers it is given; and a child
// it starts must never outlive the benchmark: Pdeathsig stops it when the
// benchmark dies without its cleanup.
package benchrig
