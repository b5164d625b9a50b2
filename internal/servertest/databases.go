package servertest

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "modernc.org/sqlite"             // the "sqlite" driver
)

// The database/sql drivers this package registers, by system.
const (
	PostgresDriver = "pgx"
	MySQLDriver    = "mysql"
	SQLiteDriver   = "sqlite"
)

// Postgres creates a database of the test's own on the PostgreSQL server
// for tests ($RACEWAY_POSTGRES_URL, an administrative URL, or
// postgres://postgres@127.0.0.1:5432/postgres with trust authentication),
// dropped at the end of the test, and returns its name and a URL for it
// (for the pgx driver).
func Postgres(t testing.TB) (name, dsn string) {
	t.Helper()
	admin := env("RACEWAY_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	need(t, "PostgreSQL", hostPort(t, admin, "5432"),
		"apt-get install postgresql, with trust authentication for user postgres on 127.0.0.1")
	return createDatabase(t, PostgresDriver, admin, func(name string) string {
		u, err := url.Parse(admin)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		return u.String()
	}, " WITH (FORCE)")
}

// MySQL creates a database of the test's own on the MariaDB (or MySQL)
// server for tests ($RACEWAY_MYSQL_DSN, a go-sql-driver/mysql DSN without a
// database, or root with no password at 127.0.0.1:3306), dropped at the end
// of the test, and returns its name and a DSN for it, with
// clientFoundRows=true so that UPDATEs report the rows they matched.
func MySQL(t testing.TB) (name, dsn string) {
	t.Helper()
	admin := env("RACEWAY_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/")
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		t.Fatal(err)
	}
	need(t, "MariaDB or MySQL", cfg.Addr, "apt-get install mariadb-server, with root and no password on 127.0.0.1")
	return createDatabase(t, MySQLDriver, admin, func(name string) string {
		c := cfg.Clone()
		c.DBName, c.ClientFoundRows = name, true
		return c.FormatDSN()
	}, "")
}

// SQLite returns the path of a new SQLite database file in the test's
// temporary directory and a DSN for it (see SQLiteDSN).
func SQLite(t testing.TB) (path, dsn string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), Name("raceway_")+".db")
	return path, SQLiteDSN(path)
}

// SQLiteDSN is a modernc.org/sqlite DSN for the file at path: WAL journal,
// a 5 s busy timeout, and transactions that take the write lock when they
// begin (BEGIN IMMEDIATE), so that concurrent writers wait rather than fail.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate"
}

// Databases lists the database systems a test can run against, for table
// tests: Open returns a new database's name (SQLite: its path) and DSN.
var Databases = []struct {
	System, Driver string
	Open           func(testing.TB) (name, dsn string)
}{
	{"postgres", PostgresDriver, Postgres},
	{"mysql", MySQLDriver, MySQL},
	{"sqlite", SQLiteDriver, SQLite},
}

// createDatabase creates a database with a random name through the
// administrative DSN admin, drops it (with dropSuffix) at the end of the
// test, and returns its name and the DSN dsnFor gives it.
func createDatabase(t testing.TB, driver, admin string, dsnFor func(name string) string, dropSuffix string) (string, string) {
	t.Helper()
	db := OpenDB(t, driver, admin)
	name := Name("raceway_")
	Must(t, db, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+dropSuffix); err != nil {
			t.Errorf("dropping the test's database %s: %v", name, err)
		}
	})
	return name, dsnFor(name)
}

// OpenDB opens dsn with driver, plainly (no capture), closed at the end of
// the test: for setting a test's database up and reading it back.
func OpenDB(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Must runs each statement on db, failing the test on the first error.
func Must(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
