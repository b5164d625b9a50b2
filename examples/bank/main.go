// Command bank is the Raceway example bank: an HTTP transfer service
// instrumented with OpenTelemetry (otelhttp) and racewayotel, and a load
// driver for it.
//
//	bank serve -listen 127.0.0.1:8081 -mode racy   # read balance, pause, write: lost updates
//	bank serve -listen 127.0.0.1:8081 -mode fixed  # the same under WithLock
//	bank load -target http://127.0.0.1:8081 -n 20 -concurrency 4
//
// Telemetry goes to OTEL_EXPORTER_OTLP_ENDPOINT (default
// http://127.0.0.1:4318), normally otelcol-raceway.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		cfg := serveConfig{}
		fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8081", "address to listen on (loopback)")
		fs.StringVar(&cfg.mode, "mode", "racy", "racy or fixed")
		fs.DurationVar(&cfg.delay, "delay", defaultDelay, "pause between reading and writing a balance")
		fs.StringVar(&cfg.service, "service", "bank", "service.name")
		_ = fs.Parse(os.Args[2:])
		err = serve(ctx, cfg)
	case "load":
		fs := flag.NewFlagSet("load", flag.ExitOnError)
		cfg := loadConfig{}
		fs.StringVar(&cfg.target, "target", "http://127.0.0.1:8081", "bank URL (loopback)")
		fs.IntVar(&cfg.transfers, "n", 20, "number of transfers (at most 10000)")
		fs.IntVar(&cfg.concurrency, "concurrency", 4, "transfers in flight at once (at most 64)")
		_ = fs.Parse(os.Args[2:])
		err = load(ctx, cfg)
	default:
		usage()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "bank:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: bank serve [-listen addr] [-mode racy|fixed] | bank load [-target url] [-n transfers] [-concurrency c]")
	os.Exit(2)
}
