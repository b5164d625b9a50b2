// Package jaegertest builds and runs a local Jaeger v2 for integration tests.
//
// The Jaeger binary is built from the pinned tools module in tools/jaeger
// (see tools/jaeger/README.md) into <repo>/.bin/jaeger and started with
// tools/jaeger/config.yaml, which binds every listener to 127.0.0.1 and keeps
// traces in memory. Start picks free loopback ports and passes them to that
// config through environment variables.
//
// This package deliberately uses only the standard library: Jaeger is not a
// dependency of the root module.
package jaegertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/raceway-otel/raceway/internal/proc"
)

// Environment variables read by tools/jaeger/config.yaml. Each holds a port
// number only; the host is always 127.0.0.1.
const (
	EnvOTLPGRPCPort  = "JAEGER_OTLP_GRPC_PORT"
	EnvOTLPHTTPPort  = "JAEGER_OTLP_HTTP_PORT"
	EnvQueryHTTPPort = "JAEGER_QUERY_HTTP_PORT"
	EnvQueryGRPCPort = "JAEGER_QUERY_GRPC_PORT"
	EnvHealthPort    = "JAEGER_HEALTH_PORT"
)

// Paths of the tools module and of the built binary, relative to the
// repository root.
const (
	ToolsDir   = "tools/jaeger"
	ConfigPath = "tools/jaeger/config.yaml"
	BinPath    = ".bin/jaeger"
)

// Bounds on waiting for the process.
const (
	// StartTimeout bounds how long Start waits for Jaeger to become ready
	// (in addition to the deadline of the context passed to Start).
	StartTimeout = 60 * time.Second
	// startAttempts is how often Start retries when a port it picked itself
	// was taken by someone else before Jaeger could bind it.
	startAttempts = 3
)

const jaegerPkg = "github.com/jaegertracing/jaeger/cmd/jaeger"

// Build makes sure <repoRoot>/.bin/jaeger exists and is not older than
// tools/jaeger/go.mod and tools/jaeger/go.sum, building it with `go build` in
// tools/jaeger otherwise. The go command's output is written to progress
// (which may be nil). A cold build takes several minutes; ctx should allow
// for that. Concurrent callers (e.g. several test binaries) are serialized by
// a lock file so that only one of them builds. Build also writes
// .bin/.gitignore (ignoring everything in .bin) if it is missing.
func Build(ctx context.Context, repoRoot string, progress io.Writer) (binPath string, err error) {
	if progress == nil {
		progress = io.Discard
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, filepath.FromSlash(BinPath))
	toolsDir := filepath.Join(root, filepath.FromSlash(ToolsDir))
	if fresh, err := upToDate(bin, toolsDir); err != nil {
		return "", err
	} else if fresh {
		return bin, nil
	}

	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	// Keep the ~120 MB binary out of git even if the repository's own
	// .gitignore does not list .bin/.
	ignore := filepath.Join(filepath.Dir(bin), ".gitignore")
	if _, err := os.Stat(ignore); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(ignore, []byte("*\n"), 0o644); err != nil {
			return "", err
		}
	}
	unlock, err := lockFile(ctx, bin+".lock")
	if err != nil {
		return "", fmt.Errorf("jaegertest: locking %s: %w", bin+".lock", err)
	}
	defer unlock()
	// Someone else may have built it while we waited for the lock.
	if fresh, err := upToDate(bin, toolsDir); err != nil {
		return "", err
	} else if fresh {
		return bin, nil
	}

	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("jaegertest: go command not found: %w", err)
	}
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	defer os.Remove(tmp)
	// -mod=readonly: go.mod/go.sum are pinned and must not be edited by a
	// build. -buildvcs=false: there is nothing useful to stamp, and it avoids
	// failing where git is unavailable.
	cmd := exec.CommandContext(ctx, goCmd, "build", "-mod=readonly", "-buildvcs=false", "-o", tmp, jaegerPkg)
	cmd.Dir = toolsDir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	cmd.Stdout = progress
	cmd.Stderr = progress
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	fmt.Fprintf(progress, "jaegertest: building %s in %s (a cold build takes several minutes)\n", jaegerPkg, toolsDir)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("jaegertest: go build in %s: %w", toolsDir, err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	fmt.Fprintf(progress, "jaegertest: built %s in %s\n", bin, time.Since(start).Round(time.Second))
	return bin, nil
}

// upToDate reports whether bin exists and is newer than the tools module's
// go.mod and go.sum.
func upToDate(bin, toolsDir string) (bool, error) {
	bi, err := os.Stat(bin)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	for _, name := range []string{"go.mod", "go.sum"} {
		si, err := os.Stat(filepath.Join(toolsDir, name))
		if err != nil {
			return false, fmt.Errorf("jaegertest: tools module: %w", err)
		}
		if bi.ModTime().Before(si.ModTime()) {
			return false, nil
		}
	}
	return true, nil
}

// Ports are the TCP ports of an Instance, all on 127.0.0.1. A zero field
// passed to Start means "pick a free port".
type Ports struct {
	OTLPGRPC  int
	OTLPHTTP  int
	QueryHTTP int
	QueryGRPC int
	Health    int
}

func (p *Ports) fields() []*int {
	return []*int{&p.OTLPGRPC, &p.OTLPHTTP, &p.QueryHTTP, &p.QueryGRPC, &p.Health}
}

func (p Ports) env() []string {
	return []string{
		EnvOTLPGRPCPort + "=" + strconv.Itoa(p.OTLPGRPC),
		EnvOTLPHTTPPort + "=" + strconv.Itoa(p.OTLPHTTP),
		EnvQueryHTTPPort + "=" + strconv.Itoa(p.QueryHTTP),
		EnvQueryGRPCPort + "=" + strconv.Itoa(p.QueryGRPC),
		EnvHealthPort + "=" + strconv.Itoa(p.Health),
	}
}

// fillFreePorts sets every zero field of p to a currently free loopback
// port, all distinct.
func fillFreePorts(p *Ports) error {
	var zero []*int
	for _, f := range p.fields() {
		if *f == 0 {
			zero = append(zero, f)
		}
	}
	addrs, err := proc.FreeAddrs(len(zero))
	if err != nil {
		return fmt.Errorf("jaegertest: %w", err)
	}
	for i, f := range zero {
		_, port, _ := net.SplitHostPort(addrs[i])
		if *f, err = strconv.Atoi(port); err != nil {
			return fmt.Errorf("jaegertest: %w", err)
		}
	}
	return nil
}

// Instance is a running Jaeger process started by Start.
type Instance struct {
	// Ports are the ports the instance listens on (all on 127.0.0.1).
	Ports Ports

	p      *proc.Process
	client *http.Client
}

// Start starts bin with the config file cfg (normally tools/jaeger/config.yaml)
// and waits until its health check, query API and OTLP ports answer. At most
// one Ports value may be given; its zero fields, or all ports if none is
// given, are set to free loopback ports. ctx bounds only the startup (never
// more than StartTimeout); the process runs until Stop.
//
// If the process exits or does not become ready in time, the error contains
// the tail of its output. When a port that Start picked itself turns out to
// be taken, Start retries with new ports a few times.
func Start(ctx context.Context, bin, cfg string, ports ...Ports) (*Instance, error) {
	if len(ports) > 1 {
		return nil, errors.New("jaegertest: Start takes at most one Ports")
	}
	var want Ports
	if len(ports) == 1 {
		want = ports[0]
	}
	for _, f := range want.fields() {
		if *f < 0 || *f > 65535 {
			return nil, fmt.Errorf("jaegertest: invalid port %d", *f)
		}
	}
	for attempt := 1; ; attempt++ {
		p := want
		if err := fillFreePorts(&p); err != nil {
			return nil, err
		}
		inst, err := startOnce(ctx, bin, cfg, p)
		if err == nil {
			return inst, nil
		}
		if attempt >= startAttempts || !lostPickedPort(err, want, p) {
			return nil, err
		}
	}
}

// lostPickedPort reports whether err says that one of the ports Start picked
// itself (zero in want, set in got) was already in use.
func lostPickedPort(err error, want, got Ports) bool {
	msg := err.Error()
	w, g := want.fields(), got.fields()
	for k := range w {
		if *w[k] == 0 && strings.Contains(msg, fmt.Sprintf("127.0.0.1:%d: bind: address already in use", *g[k])) {
			return true
		}
	}
	return false
}

func startOnce(ctx context.Context, bin, cfg string, p Ports) (*Instance, error) {
	pr, err := proc.Start("jaeger", "", p.env(), nil, bin, "--config", cfg)
	if err != nil {
		return nil, fmt.Errorf("jaegertest: %w", err)
	}
	inst := &Instance{Ports: p, p: pr, client: &http.Client{Timeout: 10 * time.Second}}
	if err := inst.waitReady(ctx); err != nil {
		_ = pr.Stop() // an exit during startup is already reported by err
		return nil, fmt.Errorf("%w\n--- jaeger output (tail) ---\n%s", err, pr.Output())
	}
	return inst, nil
}

func (i *Instance) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	// Abort a check in flight (e.g. a request to a port that someone else's
	// socket accepted) as soon as the process exits.
	go func() {
		select {
		case <-i.p.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	healthURL := fmt.Sprintf("http://127.0.0.1:%d/status", i.Ports.Health)
	checks := []func(context.Context) error{
		func(ctx context.Context) error { return i.httpOK(ctx, healthURL) },
		func(ctx context.Context) error { return i.httpOK(ctx, i.QueryURL()+"/api/services") },
		func(ctx context.Context) error { return dial(ctx, i.OTLPGRPCEndpoint()) },
		func(ctx context.Context) error { return dial(ctx, fmt.Sprintf("127.0.0.1:%d", i.Ports.OTLPHTTP)) },
		func(ctx context.Context) error { return dial(ctx, fmt.Sprintf("127.0.0.1:%d", i.Ports.QueryGRPC)) },
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error // last failure not caused by ctx expiring
	for {
		var failed error
		for _, check := range checks {
			if failed = check(ctx); failed != nil {
				break
			}
		}
		if failed == nil {
			return nil
		}
		select {
		case <-i.p.Done():
			return fmt.Errorf("jaegertest: jaeger exited during startup: %v", i.p.ExitErr())
		default:
		}
		if ctx.Err() == nil {
			last = failed
		}
		select {
		case <-i.p.Done():
			return fmt.Errorf("jaegertest: jaeger exited during startup: %v", i.p.ExitErr())
		case <-ctx.Done():
			return fmt.Errorf("jaegertest: jaeger not ready: %w (last check: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func (i *Instance) httpOK(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := i.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}

func dial(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// QueryURL is the base URL of the query HTTP server, e.g.
// "http://127.0.0.1:16686"; the APIs live under /api/ and /api/v3/.
func (i *Instance) QueryURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d", i.Ports.QueryHTTP)
}

// OTLPGRPCEndpoint is the host:port of the OTLP/gRPC receiver (insecure).
func (i *Instance) OTLPGRPCEndpoint() string {
	return fmt.Sprintf("127.0.0.1:%d", i.Ports.OTLPGRPC)
}

// OTLPHTTPEndpoint is the base URL of the OTLP/HTTP receiver, e.g.
// "http://127.0.0.1:4318"; traces are POSTed to OTLPHTTPEndpoint()+"/v1/traces".
func (i *Instance) OTLPHTTPEndpoint() string {
	return fmt.Sprintf("http://127.0.0.1:%d", i.Ports.OTLPHTTP)
}

// Output returns the tail of the process's combined stdout and stderr.
func (i *Instance) Output() string { return i.p.Output() }

// Stop sends SIGTERM, kills the process if it has not exited after
// [proc.StopTimeout], and waits for it. It is safe to call more than once. An
// exit caused by Stop's own signal is not an error; an earlier exit with a
// failure status is reported.
func (i *Instance) Stop() error {
	if i.p.Exited() && i.p.ExitErr() != nil {
		return fmt.Errorf("jaegertest: jaeger had exited: %w", i.p.ExitErr())
	}
	if err := i.p.Stop(); err != nil {
		return fmt.Errorf("jaegertest: %w", err)
	}
	return nil
}

// ---- Query API client ----

// Trace is one trace as returned by the query service's /api/traces (the
// JSON model of the Jaeger UI). Times are microseconds since the epoch and
// durations microseconds.
type Trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []Span             `json:"spans"`
	Processes map[string]Process `json:"processes"`
	Warnings  []string           `json:"warnings"`
}

// Span is one span of a Trace.
type Span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	Flags         uint32      `json:"flags"`
	StartTime     int64       `json:"startTime"`
	Duration      int64       `json:"duration"`
	Tags          []KeyValue  `json:"tags"`
	// Logs are the span's events.
	Logs      []Log    `json:"logs"`
	ProcessID string   `json:"processID"`
	Warnings  []string `json:"warnings"`
}

// Reference links a span to another; RefType is "CHILD_OF" for the parent
// and "FOLLOWS_FROM" for span links.
type Reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// KeyValue is a tag (attribute). Type is "string", "bool", "int64",
// "float64" or "binary"; Value is decoded by encoding/json (int64 values
// arrive as float64).
type KeyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Log is a span event; the event name is the field with key "event".
type Log struct {
	Timestamp int64      `json:"timestamp"`
	Fields    []KeyValue `json:"fields"`
}

// Process is the resource a span was emitted by.
type Process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []KeyValue `json:"tags"`
}

// DependencyLink is one edge of the service dependency graph from
// /api/dependencies.
type DependencyLink struct {
	Parent    string `json:"parent"`
	Child     string `json:"child"`
	CallCount uint64 `json:"callCount"`
}

// Tag returns the value of the tag key and whether it is present.
func Tag(tags []KeyValue, key string) (any, bool) {
	for _, kv := range tags {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// ServiceName returns the service name of span s in trace t.
func (t Trace) ServiceName(s Span) string {
	return t.Processes[s.ProcessID].ServiceName
}

// apiError is an element of the "errors" array of a query API response.
type apiError struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

// apiResponse is the envelope of the query service's /api/... responses.
type apiResponse[T any] struct {
	Data   T          `json:"data"`
	Total  int        `json:"total"`
	Errors []apiError `json:"errors"`
}

// get performs a GET on the query API and decodes the response envelope.
func get[T any](ctx context.Context, i *Instance, path string, q url.Values) (T, error) {
	var zero T
	u := i.QueryURL() + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return zero, err
	}
	resp, err := i.client.Do(req)
	if err != nil {
		return zero, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return zero, err
	}
	var r apiResponse[T]
	if err := json.Unmarshal(body, &r); err != nil {
		return zero, fmt.Errorf("jaegertest: GET %s: %s: decoding: %w", u, resp.Status, err)
	}
	if len(r.Errors) > 0 {
		return zero, fmt.Errorf("jaegertest: GET %s: %s: %d: %s", u, resp.Status, r.Errors[0].Code, r.Errors[0].Msg)
	}
	if resp.StatusCode != http.StatusOK {
		return zero, fmt.Errorf("jaegertest: GET %s: %s", u, resp.Status)
	}
	return r.Data, nil
}

// Services returns the names of the services that have sent spans
// (GET /api/services).
func (i *Instance) Services(ctx context.Context) ([]string, error) {
	return get[[]string](ctx, i, "/api/services", nil)
}

// Traces returns the traces of service found by GET /api/traces in the last
// 24 hours (at most 1000 traces).
func (i *Instance) Traces(ctx context.Context, service string) ([]Trace, error) {
	q := url.Values{
		"service":  {service},
		"lookback": {"24h"},
		"limit":    {"1000"},
	}
	return get[[]Trace](ctx, i, "/api/traces", q)
}

// Trace returns one trace by its hex ID (GET /api/traces/{id}).
func (i *Instance) Trace(ctx context.Context, traceID string) (Trace, error) {
	ts, err := get[[]Trace](ctx, i, "/api/traces/"+url.PathEscape(traceID), nil)
	if err != nil {
		return Trace{}, err
	}
	if len(ts) != 1 {
		return Trace{}, fmt.Errorf("jaegertest: trace %s: got %d traces", traceID, len(ts))
	}
	return ts[0], nil
}

// Dependencies returns the service dependency graph
// (GET /api/dependencies) for traces that started in the last 24 hours and
// ended before now plus one minute. The in-memory store derives it from
// parent/child spans on each query.
func (i *Instance) Dependencies(ctx context.Context) ([]DependencyLink, error) {
	end := time.Now().Add(time.Minute)
	lookback := 24*time.Hour + time.Minute
	q := url.Values{
		"endTs":    {strconv.FormatInt(end.UnixMilli(), 10)},
		"lookback": {strconv.FormatInt(lookback.Milliseconds(), 10)},
	}
	return get[[]DependencyLink](ctx, i, "/api/dependencies", q)
}

// PostOTLPJSON sends an OTLP/HTTP JSON ExportTraceServiceRequest to the
// instance's /v1/traces endpoint. Because config.yaml has no batch
// processor, the spans are stored when it returns.
func (i *Instance) PostOTLPJSON(ctx context.Context, body []byte) error {
	u := i.OTLPHTTPEndpoint() + "/v1/traces"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := i.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jaegertest: POST %s: %s: %s", u, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
