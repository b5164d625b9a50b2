package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/raceway-otel/raceway/examples/internal/telemetry"
	"github.com/raceway-otel/raceway/racewayotel"
)

const pause = 10 * time.Millisecond

type serveConfig struct {
	service, listen, next, db string
}

// service is one of the three services. The shop's rows live in a real
// database, opened through racewaysql: the services never track them by
// hand. Their in-memory state (counters, the pending notifications) is
// tracked with racewayotel.
type service struct {
	name  string
	rw    *racewayotel.Tracker
	tel   *telemetry.Setup
	next  string
	store *store

	mu       sync.Mutex // guards mem
	mem      map[string]int
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
	st, err := openStore(ctx, tel.Tracker, cfg.db)
	if err != nil {
		return err
	}
	defer st.db.Close()
	s := &service{name: cfg.service, rw: tel.Tracker, tel: tel, next: cfg.next, store: st, mem: map[string]int{}}
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

// write writes the audit row.
func (s *service) write(ctx context.Context, w http.ResponseWriter, v int) bool {
	if err := s.store.writeAudit(ctx, v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return false
	}
	return true
}

// stock takes one from the product the request names, the way the request
// says this service does it (?orders=racy&inventory=locked…; racy by
// default).
func (s *service) stock(w http.ResponseWriter, r *http.Request) bool {
	product, err := strconv.Atoi(r.URL.Query().Get("product"))
	if err != nil {
		product = products[0]
	}
	mode := r.URL.Query().Get(s.name)
	if mode == "" {
		mode = modeRacy
	}
	racy := s.store.holdStock
	if s.name == "inventory" {
		racy = s.store.takeStock
	}
	if err := s.store.decrement(r.Context(), product, mode, racy); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return false
	}
	return true
}

// call POSTs to the next service and fails the request if it fails.
func (s *service) call(ctx context.Context, w http.ResponseWriter, path string) bool {
	if err := s.tel.Call(ctx, s.next+path); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return false
	}
	return true
}

// gatewayCheckout passes the checkout, with its query, to orders.
func (s *service) gatewayCheckout(w http.ResponseWriter, r *http.Request) {
	if s.call(r.Context(), w, "/orders?"+r.URL.RawQuery) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// ordersCreate takes one from the stock, then has inventory reserve one.
func (s *service) ordersCreate(w http.ResponseWriter, r *http.Request) {
	if s.stock(w, r) && s.call(r.Context(), w, "/reserve?"+r.URL.RawQuery) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// inventoryReserve takes one more: another service, the same row.
func (s *service) inventoryReserve(w http.ResponseWriter, r *http.Request) {
	if s.stock(w, r) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// gatewayAudit writes the audit row, has orders write it, and writes it
// again after orders returned: ordered by the request and response edges.
func (s *service) gatewayAudit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if s.write(ctx, w, 1) && s.call(ctx, w, "/audit") && s.write(ctx, w, 3) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *service) ordersAudit(w http.ResponseWriter, r *http.Request) {
	if s.write(r.Context(), w, 2) {
		w.WriteHeader(http.StatusNoContent)
	}
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
	v := s.mem[name]
	s.mem[name] = v + delta
	s.mu.Unlock()
	s.rw.TrackStateChange(ctx, name, v, v+delta, racewayotel.Write)
}

func loopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return fmt.Errorf("%q: want an http URL", raw)
	}
	return loopbackHost(u.Hostname())
}

func loopbackHost(h string) error {
	if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("host %q: want a loopback host", h)
	}
	return nil
}
