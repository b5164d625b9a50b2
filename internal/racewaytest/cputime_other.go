//go:build !unix

package racewaytest

// CPUTime is not measured on this platform: it returns 0.
func CPUTime() int64 { return 0 }
