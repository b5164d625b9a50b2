// Command distributed is Raceway's distributed example: three services,
// gateway → orders → inventory, each instrumented with otelhttp and
// racewayotel, and a load driver.
//
//	distributed serve -service inventory -listen 127.0.0.1:8093
//	distributed serve -service orders    -listen 127.0.0.1:8092 -next http://127.0.0.1:8093
//	distributed serve -service gateway   -listen 127.0.0.1:8091 -next http://127.0.0.1:8092
//	distributed load -gateway http://127.0.0.1:8091 -n 20 -concurrency 4
//
// What the services do, and what Raceway must conclude:
//
//   - POST /checkout (gateway → orders → inventory): orders and inventory
//     both read-modify-write the shared stock row
//     postgres/shop/products/42.stock without a lock; concurrent checkouts
//     race across services.
//   - every service counts its requests in its own request_count, and every
//     inventory instance its cache.size, each under its own lock: per-process
//     names, never a race across processes.
//   - POST /audit (gateway writes postgres/shop/audit/1.last, calls orders,
//     which writes it, and writes it again after orders returns), called one
//     at a time: ordered by the RPC request and response edges, no race.
//   - POST /notify (orders starts a background job with Tracker.Detach; the
//     job and the handler both write orders.notifications.pending): a race
//     within one trace.
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
		var cfg serveConfig
		fs.StringVar(&cfg.service, "service", "", "gateway, orders or inventory")
		fs.StringVar(&cfg.listen, "listen", "", "address to listen on (loopback)")
		fs.StringVar(&cfg.next, "next", "", "URL of the next service (gateway and orders)")
		_ = fs.Parse(os.Args[2:])
		err = serve(ctx, cfg)
	case "load":
		fs := flag.NewFlagSet("load", flag.ExitOnError)
		var cfg loadConfig
		fs.StringVar(&cfg.gateway, "gateway", "http://127.0.0.1:8091", "gateway URL (loopback)")
		fs.IntVar(&cfg.checkouts, "n", 20, "concurrent checkouts (at most 10000)")
		fs.IntVar(&cfg.concurrency, "concurrency", 4, "checkouts in flight at once (at most 64)")
		fs.IntVar(&cfg.audits, "audits", 3, "sequential audits (at most 100)")
		_ = fs.Parse(os.Args[2:])
		err = load(ctx, cfg)
	default:
		usage()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "distributed:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: distributed serve -service gateway|orders|inventory -listen addr [-next url] | distributed load [-gateway url] [-n checkouts] [-concurrency c] [-audits n]")
	os.Exit(2)
}
