package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"go.opentelemetry.io/otel/trace"

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
	tracer := tel.Provider.Tracer("bank-load")

	jobs := make(chan int)
	errs := make(chan error, cfg.transfers)
	var wg sync.WaitGroup
	for range cfg.concurrency {
		wg.Go(func() {
			for i := range jobs {
				errs <- transferOnce(ctx, tel, tracer, cfg.target, 100*(i%2+1))
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

func transferOnce(ctx context.Context, tel *telemetry.Setup, tracer trace.Tracer, target string, amount int) error {
	ctx, span := tracer.Start(ctx, "transfer", trace.WithNewRoot())
	defer span.End()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		fmt.Sprintf("%s/transfer?from=alice&to=bob&amount=%d", target, amount), nil)
	if err != nil {
		return err
	}
	resp, err := tel.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("transfer: %s", resp.Status)
	}
	return nil
}
