//go:build unix

package racewaytest

import "syscall"

// CPUTime returns the CPU time (user and system) the process has used, in
// nanoseconds, 0 where it is not measured: benchmarks report it beside
// wall time because a loaded machine inflates wall time.
func CPUTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
