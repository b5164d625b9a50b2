package proc

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StopTimeout is how long Stop waits after SIGTERM before it kills.
const StopTimeout = 10 * time.Second

// Process is a child process whose output is kept (the tail) for error
// messages and optionally copied to a writer. It runs in a process group of
// its own (Stop signals the whole group) and, on Linux, dies with the
// process that started it.
type Process struct {
	Name string
	cmd  *exec.Cmd
	out  *tail
	done chan struct{}
	err  error

	stopOnce sync.Once
	stopErr  error
}

// Start starts bin with args and extra environment variables (KEY=VALUE),
// in dir. Its output goes to the tail and to echo, if not nil.
func Start(name, dir string, env []string, echo io.Writer, bin string, args ...string) (*Process, error) {
	p := &Process{Name: name, out: &tail{echo: echo}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output returns the tail of the process's output.
func (p *Process) Output() string { return p.out.String() }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr is how the process exited (nil for status 0); valid once Done is
// closed.
func (p *Process) ExitErr() error { return p.err }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit by itself, within ctx.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("%s: %w\n%s", p.Name, p.err, p.Output())
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s did not finish: %w\n%s", p.Name, ctx.Err(), p.Output())
	}
}

// Stop sends SIGTERM to the process group, kills it after StopTimeout, and
// waits. An exit caused by the signal, or an earlier exit (see ExitErr), is
// not an error. Safe to call twice.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		if p.Exited() {
			return
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(StopTimeout):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
			p.stopErr = fmt.Errorf("%s did not stop within %s of SIGTERM and was killed", p.Name, StopTimeout)
		}
	})
	return p.stopErr
}

// WaitListening waits until addr accepts TCP connections, failing early
// when the process exits.
func (p *Process) WaitListening(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before listening on %s: %v\n%s", p.Name, addr, p.err, p.Output())
		case <-ctx.Done():
			return fmt.Errorf("%s is not listening on %s: %w\n%s", p.Name, addr, ctx.Err(), p.Output())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tail keeps the last 64 KiB written to it.
type tail struct {
	mu   sync.Mutex
	buf  []byte
	echo io.Writer
}

const tailSize = 64 << 10

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.echo != nil {
		_, _ = t.echo.Write(b)
	}
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimRight(string(t.buf), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
