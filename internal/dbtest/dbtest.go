// Package dbtest gives tests a database of their own on the real servers
// the project tests against, on loopback: PostgreSQL (127.0.0.1:5432, user
// postgres, trust authentication), MariaDB or MySQL (127.0.0.1:3306, root,
// no password), and SQLite (a file in the test's temporary directory).
// Each database has a random name and is dropped when the test ends, so that
// tests running at the same time never share one.
//
// A server that cannot be reached fails the test when CI=true, and
// otherwise skips it, saying which server is missing and how to start it.
// RACEWAY_TEST_POSTGRES and RACEWAY_TEST_MYSQL override the administrative
// DSNs (a PostgreSQL URL; a go-sql-driver/mysql DSN without a database).
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "modernc.org/sqlite"             // the "sqlite" driver
)

// Drivers registered by this package, by system.
const (
	PostgresDriver = "pgx"
	MySQLDriver    = "mysql"
	SQLiteDriver   = "sqlite"
)

const (
	defaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultMySQL    = "root@tcp(127.0.0.1:3306)/"
)

// Name returns a random database name: raceway_ and 12 hex digits.
func Name() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "raceway_" + hex.EncodeToString(b[:])
}

// unreachable fails or skips t for a server it cannot reach.
func unreachable(t testing.TB, what, start string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is unreachable (CI=true, so this is a failure): %v", what, err)
	}
	t.Skipf("SKIPPED: %s is unreachable: %v\n\tStart it (%s), or set CI=true to make this a failure.", what, err, start)
}

// Postgres creates a database on the PostgreSQL server and returns its name
// and a DSN for it (for the pgx driver).
func Postgres(t testing.TB) (name, dsn string) {
	t.Helper()
	admin := os.Getenv("RACEWAY_TEST_POSTGRES")
	if admin == "" {
		admin = defaultPostgres
	}
	where := admin
	if u, err := url.Parse(admin); err == nil {
		where = u.Redacted()
	}
	db := open(t, PostgresDriver, admin, "PostgreSQL at "+where, "apt-get install postgresql; trust authentication for 127.0.0.1")
	name = Name()
	exec(t, db, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		exec(t, db, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = db.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return name, u.String()
}

// MySQL creates a database on the MariaDB (or MySQL) server and returns its
// name and a DSN for it (for go-sql-driver/mysql, with clientFoundRows=true
// so that UPDATEs report the rows they matched).
func MySQL(t testing.TB) (name, dsn string) {
	t.Helper()
	admin := os.Getenv("RACEWAY_TEST_MYSQL")
	if admin == "" {
		admin = defaultMySQL
	}
	db := open(t, MySQLDriver, admin, "MariaDB/MySQL at "+admin, "apt-get install mariadb-server; root with no password on 127.0.0.1")
	name = Name()
	exec(t, db, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		exec(t, db, "DROP DATABASE IF EXISTS "+name)
		_ = db.Close()
	})
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	cfg.ClientFoundRows = true
	return name, cfg.FormatDSN()
}

// SQLite returns the path of a new SQLite database file in the test's
// temporary directory and a DSN for it (for modernc.org/sqlite): WAL
// journal, a 5 s busy timeout, and transactions that take the write lock
// when they begin (BEGIN IMMEDIATE), so that concurrent writers wait rather
// than fail.
func SQLite(t testing.TB) (path, dsn string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), Name()+".db")
	return path, SQLiteDSN(path)
}

// SQLiteDSN is the DSN SQLite uses for path.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate"
}

func open(t testing.TB, driver, dsn, what, start string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		unreachable(t, what, start, err)
	}
	return db
}

func exec(t testing.TB, db *sql.DB, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		t.Errorf("%s: %v", stmt, err)
	}
}

// Systems lists the servers a test can run against, for table tests:
// Open returns the database's name and DSN.
var Systems = []struct {
	System, Driver string
	Open           func(testing.TB) (name, dsn string)
}{
	{"postgres", PostgresDriver, Postgres},
	{"mysql", MySQLDriver, MySQL},
	{"sqlite", SQLiteDriver, SQLite},
}

// OpenDB opens dsn with driver, plainly (no capture), closed when the test
// ends: for setting a test's database up and reading it back.
func OpenDB(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Must is a helper for setup statements: it runs each statement on db and
// fails t on the first error.
func Must(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
