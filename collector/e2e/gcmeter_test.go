package e2e

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// gcMeter adds up the CPU time that a Go process's garbage collector
// reports for each of its cycles when it runs with GODEBUG=gctrace=1: one
// line per cycle on standard error,
//
//	gc 17 @4.805s 1%: 0.77+14+0.006 ms clock, 1.5+0.87/7.8/1.6+0.013 ms cpu, 23->24->11 MB, …
//
// whose "ms cpu" part is the CPU time of the cycle's phases (stop-the-world
// sweep termination, mark assists / background / idle workers, mark
// termination). It is the collector output's writer; other lines pass by.
type gcMeter struct {
	mu      sync.Mutex
	partial []byte // an unfinished line
	cpu     time.Duration
	cycles  int
}

func (m *gcMeter) Write(b []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.partial = append(m.partial, b...)
	for {
		i := bytes.IndexByte(m.partial, '\n')
		if i < 0 {
			break
		}
		if cpu, ok := gcLineCPU(string(m.partial[:i])); ok {
			m.cpu += cpu
			m.cycles++
		}
		m.partial = m.partial[i+1:]
	}
	if len(m.partial) > 64<<10 { // no newline in sight: not a gctrace line
		m.partial = m.partial[:0]
	}
	return len(b), nil
}

// read returns the GC CPU time and cycles so far.
func (m *gcMeter) read() (time.Duration, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cpu, m.cycles
}

// gcLineCPU returns the CPU time of a gctrace line's cycle, and false for
// any other line.
func gcLineCPU(line string) (time.Duration, bool) {
	if !strings.HasPrefix(line, "gc ") {
		return 0, false
	}
	_, rest, ok := strings.Cut(line, " ms clock, ")
	if !ok {
		return 0, false
	}
	phases, _, ok := strings.Cut(rest, " ms cpu")
	if !ok {
		return 0, false
	}
	var ms float64
	for _, f := range strings.FieldsFunc(phases, func(r rune) bool { return r == '+' || r == '/' }) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, false
		}
		ms += v
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}

func TestGCMeter(t *testing.T) {
	var m gcMeter
	out := "2026-12-02T18:40:00Z info service started\n" +
		"gc 16 @4.498s 1%: 5.1+14+0.17 ms clock, 10+0.44/13/0+0.35 ms cpu, 23->24->12 MB, 26 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
		"gc 17 @4.805s 1%: 0.77+14+0.006 ms clock, 1.5+0.87/7.8/1.6+0.013 ms cpu, 23->24->11 MB, 25 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)\n" +
		"gc 18 @5.1s 1%: garbled\n"
	// Written in pieces that split lines, as a pipe delivers them.
	for len(out) > 0 {
		n := min(len(out), 37)
		if _, err := m.Write([]byte(out[:n])); err != nil {
			t.Fatal(err)
		}
		out = out[n:]
	}
	cpu, cycles := m.read()
	want := time.Duration((10 + 0.44 + 13 + 0 + 0.35 + 1.5 + 0.87 + 7.8 + 1.6 + 0.013) * float64(time.Millisecond))
	if cycles != 2 || (cpu-want).Abs() > time.Microsecond {
		t.Errorf("read() = %v, %d cycles; want %v, 2", cpu, cycles, want)
	}
}
