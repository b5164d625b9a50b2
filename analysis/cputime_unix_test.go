//go:build unix

package analysis_test

import "syscall"

// cpuTime returns the CPU time (user and system) the process has used, in
// nanoseconds: benchmarks report it beside wall time because a loaded
// machine inflates wall time.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
