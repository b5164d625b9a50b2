// Command distributed is Raceway's distributed example: three services,
// gateway → orders → inventory, each instrumented with otelhttp and
// racewayotel, sharing a real database, and a load driver.
//
//	distributed serve -service inventory -listen 127.0.0.1:8093 [-db sqlite:/tmp/shop.db | -db postgres://… | -db 'mysql:root@tcp(127.0.0.1:3306)/test']
//	distributed serve -service orders    -listen 127.0.0.1:8092 -next http://127.0.0.1:8093 [-db …]
//	distributed serve -service gateway   -listen 127.0.0.1:8091 -next http://127.0.0.1:8092 [-db …]
//	distributed load -gateway http://127.0.0.1:8091 -n 20 -concurrency 4 [-product 42 -orders racy -inventory racy]
//
// The services open the database (by default a SQLite file in the
// temporary directory; PostgreSQL with -db postgres://…, MariaDB or MySQL
// with -db mysql: and a go-sql-driver/mysql DSN) through
// racewaysql, so that every statement records the rows it reads and
// writes: no tracking call is written for them. What they do, and what
// Raceway must conclude:
//
//   - POST /checkout?product=42&orders=MODE&inventory=MODE (gateway → orders
//     → inventory): orders and inventory each take one from the product's
//     stock, each as MODE says: racy (SELECT, pause, UPDATE … SET stock = ?)
//     gives a cross-service race on <system>/shop/products/42.stock,
//     classified as a lost update; locked (the same in a transaction,
//     SELECT … FOR UPDATE in PostgreSQL, a transaction that takes SQLite's
//     write lock at BEGIN) and atomic (UPDATE … SET stock = stock - 1) give
//     none, unless one side forgets the lock.
//   - every service counts its requests in its own request_count, and every
//     inventory instance its cache.size, each under its own lock: per-process
//     names, never a race across processes.
//   - POST /audit (gateway writes the audit row, calls orders, which writes
//     it, and writes it again after orders returns), called one at a time:
//     ordered by the RPC request and response edges, no race.
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
		fs.StringVar(&cfg.db, "db", defaultDB, "the shop's database: sqlite:PATH, postgres://… or mysql:DSN (loopback)")
		_ = fs.Parse(os.Args[2:])
		err = serve(ctx, cfg)
	case "load":
		fs := flag.NewFlagSet("load", flag.ExitOnError)
		var cfg loadConfig
		fs.StringVar(&cfg.gateway, "gateway", "http://127.0.0.1:8091", "gateway URL (loopback)")
		fs.IntVar(&cfg.checkouts, "n", 20, "concurrent checkouts (at most 10000)")
		fs.IntVar(&cfg.concurrency, "concurrency", 4, "checkouts in flight at once (at most 64)")
		fs.IntVar(&cfg.audits, "audits", 3, "sequential audits (at most 100)")
		fs.IntVar(&cfg.product, "product", products[0], "the product whose stock checkouts take")
		fs.StringVar(&cfg.orders, "orders", modeRacy, "how orders takes stock: racy, locked or atomic")
		fs.StringVar(&cfg.inventory, "inventory", modeRacy, "how inventory takes stock: racy, locked or atomic")
		fs.BoolVar(&cfg.notify, "notify", true, "end with one notify")
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
	fmt.Fprintln(os.Stderr, "usage: distributed serve -service gateway|orders|inventory -listen addr [-next url] [-db sqlite:PATH|postgres://…|mysql:DSN]\n"+
		"       distributed load [-gateway url] [-n checkouts] [-concurrency c] [-product id] [-orders mode] [-inventory mode] [-audits n] [-notify=false]")
	os.Exit(2)
}
