package racewaysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/raceway-otel/raceway/internal/servertest"
)

// opaqueConnector hides the driver beneath it, as a tracing layer does.
type opaqueConnector struct{ driver.Connector }

func (c opaqueConnector) Driver() driver.Driver { return opaqueDriver{c.Connector.Driver()} }

type opaqueDriver struct{ driver.Driver }

// placeholders rewrites ? placeholders as $1, $2… for PostgreSQL.
func placeholders(system, q string) string {
	if system != SystemPostgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestServers runs the capture on the real drivers and servers (PostgreSQL
// with pgx, MariaDB with go-sql-driver/mysql, SQLite with
// modernc.org/sqlite), each on a database of its own: names as the catalog
// spells them, values as the drivers return them, locks of real
// transactions, prepared statements, and the interfaces database/sql uses.
func TestServers(t *testing.T) {
	for _, sys := range servertest.Databases {
		t.Run(sys.System, func(t *testing.T) {
			dbName, dsn := sys.Open(t)
			admin := servertest.OpenDB(t, sys.Driver, dsn)
			autoID := map[string]string{
				SystemPostgres: "id serial PRIMARY KEY",
				SystemMySQL:    "id int AUTO_INCREMENT PRIMARY KEY",
				SystemSQLite:   "id INTEGER PRIMARY KEY",
			}[sys.System]
			servertest.Must(t, admin,
				"CREATE TABLE products (id int PRIMARY KEY, name varchar(64), stock int)",
				"CREATE TABLE order_items (order_id int, product_id int, qty int, PRIMARY KEY (product_id, order_id))",
				"CREATE TABLE notes ("+autoID+", body varchar(64))",
				"INSERT INTO order_items VALUES (7, 3, 1)")

			r := newRecorder(t, "shop-1")
			db, err := Open(r.rw, sys.Driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			p := sys.System + "/" + dbName + "/products/42"
			lockName := p
			if sys.System == SystemSQLite {
				lockName = sys.System + "/" + dbName
			}
			lk := " x[" + lockName + "]"
			check := func(what string, want []string, skips ...string) {
				t.Helper()
				if got := r.records(); !slices.Equal(got, want) {
					t.Errorf("%s\nrecords:%s\nwant:%s", what, lines(got), lines(want))
				}
				if got := r.skipped(); !slices.Equal(got, skips) {
					t.Errorf("%s: skipped %v, want %v", what, got, skips)
				}
			}
			q := func(s string) string { return placeholders(sys.System, s) }
			span := func(name string, f func(ctx context.Context) error) {
				t.Helper()
				ctx, sp := r.tracer.Start(ctx, name)
				err := f(ctx)
				sp.End()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}

			if err := db.PingContext(ctx); err != nil {
				t.Fatal(err)
			}
			span("insert", func(ctx context.Context) error {
				_, err := db.ExecContext(ctx, q("INSERT INTO products (id, name, stock) VALUES (?, ?, ?)"), 42, "lamp", 10)
				return err
			})
			check("insert", []string{"W " + p + ".id ->42", "W " + p + ".name ->lamp", "W " + p + ".stock ->10"})

			var stock int
			span("read", func(ctx context.Context) error {
				return db.QueryRowContext(ctx, q("SELECT stock FROM products WHERE id = ?"), 42).Scan(&stock)
			})
			check("read", []string{"R " + p + ".stock 10"})

			span("blind write", func(ctx context.Context) error {
				_, err := db.ExecContext(ctx, q("UPDATE products SET stock = ? WHERE id = ?"), stock-1, 42)
				return err
			})
			check("blind write", []string{"W " + p + ".stock 10->9"}) // the old value is what this thread read

			span("atomic decrement", func(ctx context.Context) error {
				_, err := db.ExecContext(ctx, q("UPDATE products SET stock = stock - 1 WHERE id = ? AND stock > 0"), 42)
				return err
			})
			check("atomic decrement", []string{"R " + p + ".stock" + lk, "W " + p + ".stock ->" + lk})

			forUpdate := " FOR UPDATE"
			if sys.System == SystemSQLite {
				forUpdate = "" // SQLite has none: its transactions lock the database (BEGIN IMMEDIATE)
			}
			span("locked read-modify-write", func(ctx context.Context) error {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				var name string
				if err := tx.QueryRowContext(ctx, q("SELECT name, stock FROM products WHERE id = ?"+forUpdate), 42).Scan(&name, &stock); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, q("UPDATE products SET stock = ? WHERE id = ?"), stock+10, 42); err != nil {
					return err
				}
				return tx.Commit()
			})
			check("locked read-modify-write", []string{"R " + p + ".name lamp" + lk, "R " + p + ".stock 8" + lk, "W " + p + ".stock 8->18" + lk})

			span("prepared", func(ctx context.Context) error {
				st, err := db.PrepareContext(ctx, q("SELECT qty FROM order_items WHERE order_id = ? AND product_id = ?"))
				if err != nil {
					return err
				}
				defer st.Close()
				var qty int
				return st.QueryRowContext(ctx, 7, 3).Scan(&qty)
			})
			// The key is in the primary key's column order (product_id, order_id).
			check("prepared", []string{"R " + sys.System + "/" + dbName + "/order_items/3,7.qty 1"})

			span("new row", func(ctx context.Context) error {
				if sys.System == SystemPostgres {
					var id int
					return db.QueryRowContext(ctx, "INSERT INTO notes (body) VALUES ($1) RETURNING id", "hi").Scan(&id)
				}
				_, err := db.ExecContext(ctx, "INSERT INTO notes (body) VALUES (?)", "hi")
				return err
			})
			n := sys.System + "/" + dbName + "/notes/1"
			check("new row", []string{"W " + n + ".id ->1", "W " + n + ".body ->hi"})

			// A column added after the capture looked the table up: the
			// statement naming it makes the catalog look again (at most once
			// per recheckAfter, hence the aging), and is captured.
			servertest.Must(t, admin, "ALTER TABLE products ADD COLUMN price int")
			ageTable(t, db, catalogKey{database: dbName, table: catalogName(sys.System, name{text: "products"})})
			span("altered table", func(ctx context.Context) error {
				_, err := db.ExecContext(ctx, q("INSERT INTO products (id, name, stock, price) VALUES (?, ?, ?, ?)"), 43, "desk", 1, 250)
				return err
			})
			p43 := sys.System + "/" + dbName + "/products/43"
			check("altered table", []string{"W " + p43 + ".id ->43", "W " + p43 + ".name ->desk", "W " + p43 + ".stock ->1", "W " + p43 + ".price ->250"})

			span("skipped", func(ctx context.Context) error {
				rows, err := db.QueryContext(ctx, "SELECT p.stock FROM products p JOIN order_items o ON o.product_id = p.id")
				if err != nil {
					return err
				}
				return rows.Close()
			})
			check("skipped", nil, reasonJoin)

			if sys.System != SystemSQLite {
				lockFn, unlockFn, lockName := "SELECT pg_try_advisory_lock($1)", "SELECT pg_advisory_unlock($1)", "postgres/"+dbName+"/advisory/77"
				if sys.System == SystemMySQL {
					lockFn, unlockFn, lockName = "SELECT GET_LOCK(?, 5)", "SELECT RELEASE_LOCK(?)", "mysql/lock/77"
				}
				span("advisory lock", func(ctx context.Context) error {
					c, err := db.Conn(ctx) // a session lock: one connection from lock to unlock
					if err != nil {
						return err
					}
					defer c.Close()
					var locked bool
					if err := c.QueryRowContext(ctx, lockFn, "77").Scan(&locked); err != nil || !locked {
						return fmt.Errorf("locked %v, %v", locked, err)
					}
					if err := c.QueryRowContext(ctx, q("SELECT stock FROM products WHERE id = ?"), 42).Scan(&stock); err != nil {
						return err
					}
					return c.QueryRowContext(ctx, unlockFn, "77").Scan(&locked)
				})
				check("advisory lock", []string{"R " + p + ".stock 18 x[" + lockName + "]"})
			}

			// Wrapped by another layer (as by otelsql), the driver is one the
			// capture does not know: it asks the server what it is.
			wrapped := OpenDB(r.rw, opaqueConnector{must(WrapDriver(nil, admin.Driver()).(driver.DriverContext).OpenConnector(dsn))})
			defer wrapped.Close()
			span("behind another layer", func(ctx context.Context) error {
				return wrapped.QueryRowContext(ctx, q("SELECT stock FROM products WHERE id = ?"), 42).Scan(&stock)
			})
			check("behind another layer", []string{"R " + p + ".stock 18"})

			if sys.System == SystemPostgres {
				span("serializable", func(ctx context.Context) error {
					tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
					if err != nil {
						return err
					}
					defer tx.Rollback()
					if err := tx.QueryRowContext(ctx, "SELECT stock FROM products WHERE id = $1", 42).Scan(&stock); err != nil {
						return err
					}
					return tx.Commit()
				})
				check("serializable", []string{"R " + p + ".stock 18" + lk})
			}
		})
	}
}

// ageTable makes table k, which db's capture has looked up, look as if
// looked up recheckAfter ago.
func ageTable(t *testing.T, db *sql.DB, k catalogKey) {
	t.Helper()
	c := &db.Driver().(*wrappedDriver).cap.catalog
	e, ok := c.get(k)
	if !ok {
		t.Fatalf("the catalog has no table %+v", k)
	}
	e.checked = e.checked.Add(-recheckAfter)
	c.put(k, e)
}

// TestDeclaredKeys names the rows of tables without a primary key by the
// columns WithPrimaryKey declares, on the real servers: a table of the
// connection's own database, and one of a PostgreSQL schema or of another
// MySQL database, declared as resource names spell them.
func TestDeclaredKeys(t *testing.T) {
	for _, sys := range servertest.Databases {
		t.Run(sys.System, func(t *testing.T) {
			dbName, dsn := sys.Open(t)
			admin := servertest.OpenDB(t, sys.Driver, dsn)
			servertest.Must(t, admin,
				"CREATE TABLE events (code varchar(16), body varchar(64))",
				"INSERT INTO events VALUES ('a', 'x')")
			opts := []Option{WithPrimaryKey("events", "code")}
			// other is a table elsewhere: its statement, its declaration and
			// its resource name's prefix.
			var other struct{ table, declared, prefix string }
			switch sys.System {
			case SystemPostgres:
				servertest.Must(t, admin, "CREATE SCHEMA ledger")
				other.table, other.declared = "ledger.audit", "ledger.audit"
				other.prefix = sys.System + "/" + dbName + "/ledger.audit"
			case SystemMySQL:
				otherDB, _ := servertest.MySQL(t)
				other.table, other.declared = otherDB+".audit", "audit"
				other.prefix = sys.System + "/" + otherDB + "/audit"
			}
			if other.table != "" {
				servertest.Must(t, admin,
					"CREATE TABLE "+other.table+" (code varchar(16), body varchar(64))",
					"INSERT INTO "+other.table+" VALUES ('b', 'y')")
				opts = append(opts, WithPrimaryKey(other.declared, "code"))
			}

			r := newRecorder(t, "shop-1")
			db, err := Open(r.rw, sys.Driver, dsn, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			exec := func(query string, args ...any) {
				t.Helper()
				ctx, sp := r.tracer.Start(context.Background(), "update")
				defer sp.End()
				if _, err := db.ExecContext(ctx, placeholders(sys.System, query), args...); err != nil {
					t.Fatalf("%s: %v", query, err)
				}
			}
			exec("UPDATE events SET body = ? WHERE code = ?", "x2", "a")
			want := []string{"W " + sys.System + "/" + dbName + "/events/a.body ->x2"}
			if other.table != "" {
				exec("UPDATE "+other.table+" SET body = ? WHERE code = ?", "y2", "b")
				want = append(want, "W "+other.prefix+"/b.body ->y2")
			}
			if got := r.records(); !slices.Equal(got, want) {
				t.Errorf("records:%s\nwant:%s", lines(got), lines(want))
			}
			if got := r.skipped(); len(got) != 0 {
				t.Errorf("skipped %v", got)
			}
		})
	}
}
