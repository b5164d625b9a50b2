package main

import (
	"context"
	"fmt"
	"net/url"
	"sync"

	"github.com/raceway-otel/raceway/examples/internal/telemetry"
)

type loadConfig struct {
	target                 string
	transfers, concurrency int
}

// load fires cfg.transfers transfers from alice to bob, cfg.concurrency at
// a time, each in a trace of its own, and waits for all of them.
func load(ctx context.Context, cfg loadConfig) error {
	u, err := url.Parse(cfg.target)
	if err != nil || u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" {
		return fmt.Errorf("target %q: want a loopback URL", cfg.target)
	}
	cfg.transfers = min(max(cfg.transfers, 1), 10_000)
	cfg.concurrency = min(max(cfg.concurrency, 1), 64)
	tel, err := telemetry.New(ctx, "bank-load")
	if err != nil {
		return err
	}
	defer func() { _ = tel.Shutdown(context.WithoutCancel(ctx)) }()

	jobs := make(chan int)
	errs := make(chan error, cfg.transfers)
	var wg sync.WaitGroup
	for range cfg.concurrency {
		wg.Go(func() {
			for i := range jobs {
				errs <- transferOnce(ctx, tel, cfg.target, 100*(i%2+1))
			}
		})
	}
	go func() {
		defer close(jobs)
		for i := range cfg.transfers {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	failed := 0
	var first error
	for err := range errs {
		if err != nil {
			failed++
			first = err
		}
	}
	fmt.Printf("bank load: %d transfers sent, %d failed\n", cfg.transfers, failed)
	if first != nil {
		return fmt.Errorf("%d transfers failed, last: %w", failed, first)
	}
	return nil
}

func transferOnce(ctx context.Context, tel *telemetry.Setup, target string, amount int) error {
	return tel.Post(ctx, "transfer", fmt.Sprintf("%s/transfer?from=alice&to=bob&amount=%d", target, amount))
}
