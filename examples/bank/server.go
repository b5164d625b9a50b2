package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/raceway-otel/raceway/examples/internal/telemetry"
	"github.com/raceway-otel/raceway/racewayotel"
)

const (
	defaultDelay   = 20 * time.Millisecond
	initialBalance = 1000
)

type serveConfig struct {
	listen, mode, service string
	delay                 time.Duration
}

// bank keeps balances in memory. store guards the map itself (so that the
// program is memory-safe); the race the example shows is logical: in racy
// mode a transfer reads a balance, pauses, then writes it, and nothing
// stops two transfers from interleaving.
type bank struct {
	rw    *racewayotel.Tracker
	fixed bool
	delay time.Duration

	store    sync.Mutex
	balances map[string]int

	accounts sync.Mutex // held across read-modify-write in fixed mode
}

func serve(ctx context.Context, cfg serveConfig) error {
	if cfg.mode != "racy" && cfg.mode != "fixed" {
		return fmt.Errorf("mode %q: want racy or fixed", cfg.mode)
	}
	tel, err := telemetry.New(ctx, cfg.service)
	if err != nil {
		return err
	}
	b := &bank{rw: tel.Tracker, fixed: cfg.mode == "fixed", delay: cfg.delay, balances: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /transfer", b.transfer)
	mux.HandleFunc("GET /balance", b.balance)
	fmt.Printf("bank: %s mode\n", cfg.mode)
	return tel.Serve(ctx, cfg.listen, mux, "bank")
}

// transfer moves amount from one account to another:
// POST /transfer?from=alice&to=bob&amount=100.
func (b *bank) transfer(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	from, to := r.URL.Query().Get("from"), r.URL.Query().Get("to")
	amount, err := strconv.Atoi(r.URL.Query().Get("amount"))
	if from == "" || to == "" || from == to || err != nil || amount <= 0 {
		http.Error(w, "want from, to (different) and a positive amount", http.StatusBadRequest)
		return
	}
	move := func() {
		b.add(ctx, from, -amount)
		b.add(ctx, to, amount)
	}
	if b.fixed {
		b.rw.WithLock(ctx, &b.accounts, "bank.accounts", move)
	} else {
		move()
	}
	w.WriteHeader(http.StatusNoContent)
}

// add changes an account's balance by delta: a read, a pause, a write.
func (b *bank) add(ctx context.Context, account string, delta int) {
	name := "accounts." + account + ".balance"
	balance := b.get(account)
	b.rw.TrackStateChange(ctx, name, nil, balance, racewayotel.Read)
	time.Sleep(b.delay)
	b.set(account, balance+delta)
	b.rw.TrackStateChange(ctx, name, balance, balance+delta, racewayotel.Write)
}

func (b *bank) get(account string) int {
	b.store.Lock()
	defer b.store.Unlock()
	v, ok := b.balances[account]
	if !ok {
		v = initialBalance
	}
	return v
}

func (b *bank) set(account string, v int) {
	b.store.Lock()
	defer b.store.Unlock()
	b.balances[account] = v
}

// balance reports an account's balance: GET /balance?account=alice.
func (b *bank) balance(w http.ResponseWriter, r *http.Request) {
	account := r.URL.Query().Get("account")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]int{account: b.get(account)})
}
