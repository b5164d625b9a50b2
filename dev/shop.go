package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	// The drivers that read the stock the demo left.
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/raceway-otel/raceway/internal/proc"
	"github.com/raceway-otel/raceway/internal/stack"
)

// shopDemo runs the distributed example's three services on a real
// database (a SQLite file in a new temporary directory, or the PostgreSQL
// database db names), opened through racewaysql: checkouts that read the
// stock and write it back race, and are found as a lost update; checkouts
// that lock the row do not.
func shopDemo(ctx context.Context, s *stack.Stack, root, db string, freePorts bool, checkouts int) error {
	sqlite := db == ""
	if sqlite {
		dir, err := os.MkdirTemp("", "raceway-shop-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		db = "sqlite:" + filepath.Join(dir, "shop.db")
	}
	bin, err := stack.BuildExample(ctx, root, "distributed", os.Stdout)
	if err != nil {
		return err
	}
	addrs, err := listenAddrs(freePorts, "127.0.0.1:8093", "127.0.0.1:8092", "127.0.0.1:8091") // inventory, orders, gateway
	if err != nil {
		return err
	}
	where := "a SQLite file, " + strings.TrimPrefix(db, "sqlite:")
	switch {
	case strings.HasPrefix(db, "mysql:"):
		where = "MariaDB (or MySQL)"
	case !sqlite:
		where = "PostgreSQL"
	}
	step("The shop: gateway → orders → inventory, three processes sharing " + where + " through racewaysql")
	env := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + s.OTLPHTTP}
	var services []*proc.Process
	defer func() {
		for _, p := range services {
			_ = p.Stop()
		}
	}()
	for i, svc := range []string{"inventory", "orders", "gateway"} {
		args := []string{"serve", "-service", svc, "-listen", addrs[i], "-db", db}
		if i > 0 {
			args = append(args, "-next", "http://"+addrs[i-1])
		}
		p, err := proc.Start(svc, root, env, nil, bin, args...)
		if err != nil {
			return err
		}
		services = append(services, p)
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err = p.WaitListening(wctx, addrs[i])
		cancel()
		if err != nil {
			return err
		}
	}
	checkout := func(product int, mode string) (time.Time, error) {
		start := time.Now()
		before, err := readStock(ctx, db, product)
		if err != nil {
			return start, err
		}
		load, err := proc.Start("shop load", root, env, os.Stdout, bin, "load", "-gateway", "http://"+addrs[2],
			"-n", strconv.Itoa(checkouts), "-concurrency", "4", "-product", strconv.Itoa(product),
			"-orders", mode, "-inventory", mode, "-audits", "0", "-notify=false")
		if err != nil {
			return start, err
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := load.Wait(wctx); err != nil {
			return start, err
		}
		stock, err := readStock(wctx, db, product)
		if err != nil {
			return start, err
		}
		fmt.Printf("product %d's stock: %d → %d (every checkout takes 2: %d)\n", product, before, stock, before-2*checkouts)
		return start, nil
	}
	stockOf := func(product int, since time.Time) func(stack.Finding) bool {
		suffix := fmt.Sprintf("/products/%d.stock", product)
		return func(f stack.Finding) bool { return !f.Start.Before(since) && strings.HasSuffix(f.Var, suffix) }
	}

	step(fmt.Sprintf("Racy checkouts: orders and inventory each SELECT the stock of product 42, pause, and UPDATE … SET stock = ? (%d checkouts, 4 at a time)", checkouts))
	start, err := checkout(42, "racy")
	if err != nil {
		return err
	}
	fmt.Println("waiting for the collector to analyse the traces and store the findings in Jaeger…")
	racy, err := stack.WaitFindings(ctx, s.Jaeger, stockOf(42, start), 1, 4*time.Second, 90*time.Second)
	if err != nil {
		return fmt.Errorf("racy shop: %w", err)
	}
	step(fmt.Sprintf("%d distinct races found on the stock row, with no tracking call written for it", len(racy)))
	if err := printFindings(s, racy, nil); err != nil {
		return err
	}

	how := "in a transaction that reads with SELECT … FOR UPDATE"
	if sqlite {
		how = "in a transaction that SQLite begins IMMEDIATE: SQLite has no FOR UPDATE, and runs such transactions one writer at a time, which the capture knows"
	}
	step(fmt.Sprintf("Locked checkouts: the same read-modify-write of product 43, %s", how))
	start, err = checkout(43, "locked")
	if err != nil {
		return err
	}
	if err := noFindings(ctx, s, stockOf(43, start), "the locked checkouts"); err != nil {
		return err
	}
	held := "the row lock FOR UPDATE takes is a shared lock both services' transactions hold"
	if sqlite {
		held = "SQLite's write lock is a shared lock both services' transactions hold"
	}
	step("Locked checkouts: no race found (" + held + ")")
	return nil
}

// readStock reads a product's stock with a plain connection: the demo's
// own look, not the shop's.
func readStock(ctx context.Context, db string, product int) (int, error) {
	driver, source, query := "pgx", db, "SELECT stock FROM products WHERE id = $1"
	if path, ok := strings.CutPrefix(db, "sqlite:"); ok {
		driver, source = "sqlite", "file:"+path+"?_pragma=busy_timeout(5000)"
	}
	if dsn, ok := strings.CutPrefix(db, "mysql:"); ok {
		driver, source, query = "mysql", dsn, "SELECT stock FROM products WHERE id = ?"
	}
	conn, err := sql.Open(driver, source)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var stock int
	err = conn.QueryRowContext(ctx, query, product).Scan(&stock)
	return stock, err
}
