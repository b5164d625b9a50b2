package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/raceway-otel/raceway/examples/internal/telemetry"
	"github.com/raceway-otel/raceway/racewayotel"
)

// Shared resources, named fleet-wide.
const (
	stockRow = "postgres/shop/products/42.stock"
	auditRow = "postgres/shop/audit/1.last"
)

const pause = 10 * time.Millisecond

type serveConfig struct {
	service, listen, next string
}

// service is one of the three services. db stands for the database that
// holds the shared rows: in this example each process keeps its own copy,
// since only the accesses matter to Raceway.
type service struct {
	name string
	rw   *racewayotel.Tracker
	tel  *telemetry.Setup
	next string

	mu       sync.Mutex // guards the maps themselves
	db       map[string]int
	counters sync.Mutex // held around the per-process counters
	requests int
	cache    int
}

func serve(ctx context.Context, cfg serveConfig) error {
	switch cfg.service {
	case "gateway", "orders":
		if err := loopbackURL(cfg.next); err != nil {
			return fmt.Errorf("-next: %w", err)
		}
	case "inventory":
	default:
		return fmt.Errorf("-service %q: want gateway, orders or inventory", cfg.service)
	}
	tel, err := telemetry.New(ctx, cfg.service)
	if err != nil {
		return err
	}
	s := &service{name: cfg.service, rw: tel.Tracker, tel: tel, next: cfg.next, db: map[string]int{stockRow: 100}}
	mux := http.NewServeMux()
	switch cfg.service {
	case "gateway":
		mux.HandleFunc("POST /checkout", s.gatewayCheckout)
		mux.HandleFunc("POST /audit", s.gatewayAudit)
		mux.HandleFunc("POST /notify", s.gatewayNotify)
	case "orders":
		mux.HandleFunc("POST /orders", s.ordersCreate)
		mux.HandleFunc("POST /audit", s.ordersAudit)
		mux.HandleFunc("POST /notify", s.ordersNotify)
	case "inventory":
		mux.HandleFunc("POST /reserve", s.inventoryReserve)
	}
	return tel.Serve(ctx, cfg.listen, s.counted(mux), cfg.service)
}

// counted increments the process's own request_count (and, in inventory,
// cache.size) under the process's own lock: per-process state that has the
// same name in every service.
func (s *service) counted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s.rw.WithLock(ctx, &s.counters, "counters", func() {
			s.rw.TrackStateChange(ctx, "request_count", s.requests, s.requests+1, racewayotel.Write)
			s.requests++
			if s.name == "inventory" {
				s.rw.TrackStateChange(ctx, "cache.size", s.cache, s.cache+1, racewayotel.Write)
				s.cache++
			}
		})
		next.ServeHTTP(w, r)
	})
}

// holdStock is orders' read-modify-write of the shared stock row: read,
// pause, write back one less, without a lock.
func (s *service) holdStock(ctx context.Context) {
	v := s.get(stockRow)
	s.rw.TrackSharedStateChange(ctx, stockRow, nil, v, racewayotel.Read)
	time.Sleep(pause)
	s.set(stockRow, v-1)
	s.rw.TrackSharedStateChange(ctx, stockRow, v, v-1, racewayotel.Write)
}

// takeStock is inventory's read-modify-write of the same row: another
// service, other code, the same race.
func (s *service) takeStock(ctx context.Context) {
	stock := s.get(stockRow)
	s.rw.TrackSharedStateChange(ctx, stockRow, nil, stock, racewayotel.Read)
	time.Sleep(pause)
	s.set(stockRow, stock-1)
	s.rw.TrackSharedStateChange(ctx, stockRow, stock, stock-1, racewayotel.Write)
}

func (s *service) get(row string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db[row]
}

func (s *service) set(row string, v int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db[row] = v
}

// write writes a shared row.
func (s *service) write(ctx context.Context, row string, v int) {
	s.mu.Lock()
	old := s.db[row]
	s.db[row] = v
	s.mu.Unlock()
	s.rw.TrackSharedStateChange(ctx, row, old, v, racewayotel.Write)
}

// call POSTs to the next service and fails the request if it fails.
func (s *service) call(ctx context.Context, w http.ResponseWriter, path string) bool {
	if err := s.tel.Call(ctx, s.next+path); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return false
	}
	return true
}

func (s *service) gatewayCheckout(w http.ResponseWriter, r *http.Request) {
	if s.call(r.Context(), w, "/orders") {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *service) ordersCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s.holdStock(ctx)
	if s.call(ctx, w, "/reserve") {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *service) inventoryReserve(w http.ResponseWriter, r *http.Request) {
	s.takeStock(r.Context())
	w.WriteHeader(http.StatusNoContent)
}

// gatewayAudit writes the audit row, has orders write it, and writes it
// again after orders returned: ordered by the request and response edges.
func (s *service) gatewayAudit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s.write(ctx, auditRow, 1)
	if !s.call(ctx, w, "/audit") {
		return
	}
	s.write(ctx, auditRow, 3)
	w.WriteHeader(http.StatusNoContent)
}

func (s *service) ordersAudit(w http.ResponseWriter, r *http.Request) {
	s.write(r.Context(), auditRow, 2)
	w.WriteHeader(http.StatusNoContent)
}

func (s *service) gatewayNotify(w http.ResponseWriter, r *http.Request) {
	if s.call(r.Context(), w, "/notify") {
		w.WriteHeader(http.StatusNoContent)
	}
}

// ordersNotify starts a background job that outlives the request, the way
// the README recommends (Tracker.Detach), and then updates the same
// counter the job updates: they run concurrently, a race in one trace.
func (s *service) ordersNotify(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	started := make(chan struct{})
	go func(ctx context.Context) {
		close(started)
		time.Sleep(pause)
		s.counter(ctx, "orders.notifications.pending", -1)
	}(s.rw.Detach(ctx))
	<-started
	s.counter(ctx, "orders.notifications.pending", 1)
	w.WriteHeader(http.StatusNoContent)
}

func (s *service) counter(ctx context.Context, name string, delta int) {
	s.mu.Lock()
	v := s.db[name]
	s.db[name] = v + delta
	s.mu.Unlock()
	s.rw.TrackStateChange(ctx, name, v, v+delta, racewayotel.Write)
}

func loopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return fmt.Errorf("%q: want an http URL", raw)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%q: want a loopback host", raw)
	}
	return nil
}
