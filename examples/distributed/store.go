package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"   // MariaDB and MySQL, as "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL, as "pgx"
	_ "modernc.org/sqlite"             // SQLite, pure Go, as "sqlite"

	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/racewaysql"
)

// defaultDB is the database the services share when -db is not given: a
// SQLite file in the temporary directory, so that the example needs nothing
// installed.
var defaultDB = "sqlite:" + filepath.Join(os.TempDir(), "raceway-shop.db")

// store is the shop's database, opened through racewaysql: every statement
// records its shared reads and writes, with no tracking call here. Its
// statements number their parameters ($1, $2…, in order), which PostgreSQL
// and SQLite read; for MySQL, q turns them into ?.
type store struct {
	db     *sql.DB
	system string // "sqlite", "postgres" or "mysql"
}

// dollarParam is a numbered parameter, $1.
var dollarParam = regexp.MustCompile(`\$[0-9]+`)

// q returns query in the database's spelling.
func (s *store) q(query string) string {
	if s.system == "mysql" {
		return dollarParam.ReplaceAllString(query, "?")
	}
	return query
}

// Stock modes: how a service read-modify-writes a product's stock.
const (
	modeRacy   = "racy"   // SELECT, then UPDATE … SET stock = $1 (holdStock, takeStock): a lost update when two overlap
	modeLocked = "locked" // the same in a transaction that locks the row (see decrementLocked)
	modeAtomic = "atomic" // UPDATE … SET stock = stock - 1: one statement the database serialises
)

// checkMode returns an error unless mode is one of the stock modes.
func checkMode(mode string) error {
	switch mode {
	case modeRacy, modeLocked, modeAtomic:
		return nil
	}
	return fmt.Errorf("stock mode %q: want racy, locked or atomic", mode)
}

// products are the rows the example creates, each with this initial stock.
var products = []int{42, 43, 44, 45}

const initialStock = 1000

// openStore opens the database dsn names (see parseDB) through
// racewaysql, and creates the shop's tables and rows if they are missing
// (with a plain connection: the setup is not the application's shared
// state).
func openStore(ctx context.Context, rw *racewayotel.Tracker, dsn string) (*store, error) {
	system, source, err := parseDB(dsn)
	if err != nil {
		return nil, err
	}
	driver := map[string]string{"sqlite": "sqlite", "postgres": "pgx", "mysql": "mysql"}[system]
	if err := setup(ctx, system, driver, source); err != nil {
		return nil, err
	}
	var opts []racewaysql.Option
	if system == "sqlite" {
		// The file's path would be its name; every service opens the same
		// file, so they agree on this shorter one.
		opts = append(opts, racewaysql.WithDatabase("shop"))
	}
	db, err := racewaysql.Open(rw, driver, source, opts...)
	if err != nil {
		return nil, err
	}
	return &store{db: db, system: system}, nil
}

// parseDB turns -db into the database system and the data source name of
// its driver: "sqlite:PATH", a postgres:// URL, or "mysql:" and a
// go-sql-driver/mysql DSN (MariaDB or MySQL).
func parseDB(dsn string) (system, source string, err error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return "", "", errors.New("-db sqlite: needs a file path")
		}
		// WAL lets readers run while one writer writes; writers wait up to
		// 5 s for each other; transactions take the write lock when they
		// begin (BEGIN IMMEDIATE), so that two of them never deadlock.
		return "sqlite", "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate", nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		u, err := url.Parse(dsn)
		if err != nil {
			return "", "", fmt.Errorf("-db: %w", err)
		}
		if err := loopbackHost(u.Hostname()); err != nil {
			return "", "", fmt.Errorf("-db: %w", err)
		}
		return "postgres", dsn, nil
	case strings.HasPrefix(dsn, "mysql:"):
		cfg, err := mysql.ParseDSN(strings.TrimPrefix(dsn, "mysql:"))
		if err != nil {
			return "", "", fmt.Errorf("-db: %w", err)
		}
		host, _, err := net.SplitHostPort(cfg.Addr)
		if err != nil || cfg.Net != "tcp" {
			return "", "", fmt.Errorf("-db: %q: want a TCP address on loopback", cfg.Addr)
		}
		if err := loopbackHost(host); err != nil {
			return "", "", fmt.Errorf("-db: %w", err)
		}
		// An UPDATE then reports the rows it matched, which the capture
		// needs (see racewaysql).
		cfg.ClientFoundRows = true
		return "mysql", cfg.FormatDSN(), nil
	}
	return "", "", fmt.Errorf("-db %q: want sqlite:PATH, postgres://… or mysql:DSN", dsn)
}

func setup(ctx context.Context, system, driver, source string) error {
	db, err := sql.Open(driver, source)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stmts := []string{
		"CREATE TABLE IF NOT EXISTS products (id integer PRIMARY KEY, name text, stock integer)",
		"CREATE TABLE IF NOT EXISTS audit (id integer PRIMARY KEY, last integer)",
		"INSERT INTO audit (id, last) VALUES (1, 0) ON CONFLICT DO NOTHING",
	}
	for _, id := range products {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO products (id, name, stock) VALUES (%d, 'lamp %d', %d) ON CONFLICT DO NOTHING", id, id, initialStock))
	}
	for _, s := range stmts {
		if system == "mysql" { // which spells ON CONFLICT DO NOTHING as INSERT IGNORE
			s = strings.Replace(strings.TrimSuffix(s, " ON CONFLICT DO NOTHING"), "INSERT INTO", "INSERT IGNORE INTO", 1)
		}
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("setting up the database: %s: %w", s, err)
		}
	}
	return nil
}

// decrement takes one from a product's stock, in mode; racy is how this
// service does it without a lock (holdStock in orders, takeStock in
// inventory: other code, the same row).
func (s *store) decrement(ctx context.Context, product int, mode string, racy func(context.Context, int) error) error {
	switch mode {
	case modeRacy:
		return racy(ctx, product)
	case modeLocked:
		return s.decrementLocked(ctx, product)
	case modeAtomic:
		_, err := s.db.ExecContext(ctx, s.q("UPDATE products SET stock = stock - 1 WHERE id = $1"), product)
		return err
	}
	return checkMode(mode)
}

// holdStock is orders' racy decrement: it reads the stock, pauses (the
// time a real service spends deciding), and writes back one less. Two of
// these that overlap both read the same value, and one decrement is lost.
func (s *store) holdStock(ctx context.Context, product int) error {
	var stock int
	if err := s.db.QueryRowContext(ctx, s.q("SELECT stock FROM products WHERE id = $1"), product).Scan(&stock); err != nil {
		return err
	}
	time.Sleep(pause)
	_, err := s.db.ExecContext(ctx, s.q("UPDATE products SET stock = $1 WHERE id = $2"), stock-1, product)
	return err
}

// takeStock is inventory's: it loads the whole product, as an ORM would,
// and saves it with one less in stock.
func (s *store) takeStock(ctx context.Context, product int) error {
	var p struct {
		id, stock int
		name      string
	}
	err := s.db.QueryRowContext(ctx, s.q("SELECT id, name, stock FROM products WHERE id = $1"), product).Scan(&p.id, &p.name, &p.stock)
	if err != nil {
		return err
	}
	time.Sleep(pause)
	p.stock--
	_, err = s.db.ExecContext(ctx, s.q("UPDATE products SET name = $1, stock = $2 WHERE id = $3"), p.name, p.stock, p.id)
	return err
}

// decrementLocked is holdStock in a transaction that holds the row from
// the read to the commit: SELECT … FOR UPDATE in PostgreSQL. SQLite
// has no FOR UPDATE: its transactions here begin IMMEDIATE (see parseDB),
// taking the database's write lock, so that they run one at a time, which
// the capture knows.
func (s *store) decrementLocked(ctx context.Context, product int) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	query := "SELECT stock FROM products WHERE id = $1 FOR UPDATE"
	if s.system == "sqlite" {
		query = "SELECT stock FROM products WHERE id = $1"
	}
	var stock int
	if err := tx.QueryRowContext(ctx, s.q(query), product).Scan(&stock); err != nil {
		return err
	}
	time.Sleep(pause)
	if _, err := tx.ExecContext(ctx, s.q("UPDATE products SET stock = $1 WHERE id = $2"), stock-1, product); err != nil {
		return err
	}
	return tx.Commit()
}

// writeAudit writes the audit row.
func (s *store) writeAudit(ctx context.Context, v int) error {
	_, err := s.db.ExecContext(ctx, s.q("UPDATE audit SET last = $1 WHERE id = 1"), v)
	return err
}
