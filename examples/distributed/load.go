package main

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/raceway-otel/raceway/examples/internal/telemetry"
)

type loadConfig struct {
	gateway                        string
	checkouts, concurrency, audits int
	product                        int
	orders, inventory              string
	notify                         bool
}

// load runs three phases against the gateway: concurrent checkouts, then
// sequential audits from one thread, then one notify.
func load(ctx context.Context, cfg loadConfig) error {
	if err := loopbackURL(cfg.gateway); err != nil {
		return fmt.Errorf("-gateway: %w", err)
	}
	for _, m := range []string{cfg.orders, cfg.inventory} {
		if err := checkMode(m); err != nil {
			return err
		}
	}
	checkout := fmt.Sprintf("/checkout?product=%d&orders=%s&inventory=%s", cfg.product, cfg.orders, cfg.inventory)
	cfg.checkouts = min(max(cfg.checkouts, 0), 10_000)
	cfg.concurrency = min(max(cfg.concurrency, 1), 64)
	cfg.audits = min(max(cfg.audits, 0), 100)
	tel, err := telemetry.New(ctx, "shop-load")
	if err != nil {
		return err
	}
	defer func() { _ = tel.Shutdown(context.WithoutCancel(ctx)) }()
	post := func(ctx context.Context, path string) error {
		name, _, _ := strings.Cut(path, "?")
		return tel.Post(ctx, name, cfg.gateway+path)
	}

	// Phase 1: concurrent checkouts.
	jobs := make(chan struct{})
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range cfg.concurrency {
		wg.Go(func() {
			for range jobs {
				if err := post(ctx, checkout); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for range cfg.checkouts {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d checkouts failed, first: %w", len(errs), errs[0])
	}
	// Phase 2: audits, one after the other from this goroutine.
	for range cfg.audits {
		if err := post(ctx, "/audit"); err != nil {
			return err
		}
	}
	// Phase 3: one notify, whose background job races with its handler.
	notifies := 0
	if cfg.notify {
		if err := post(ctx, "/notify"); err != nil {
			return err
		}
		notifies++
	}
	fmt.Printf("shop load: %d checkouts of product %d (orders %s, inventory %s), %d audits, %d notify\n",
		cfg.checkouts, cfg.product, cfg.orders, cfg.inventory, cfg.audits, notifies)
	return nil
}
