package racewaysql

import (
	"context"
	"crypto/rand"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// The database systems the capture knows, as they begin resource names.
const (
	SystemPostgres = "postgres" // PostgreSQL (and its wire-compatible kin, declared with WithSystem)
	SystemMySQL    = "mysql"    // MySQL and MariaDB
	SystemSQLite   = "sqlite"
)

func dialectOf(system string) (dialect, bool) {
	switch system {
	case SystemPostgres:
		return dialectPostgres, true
	case SystemMySQL:
		return dialectMySQL, true
	case SystemSQLite:
		return dialectSQLite, true
	}
	return 0, false
}

// driverSystems maps the package paths of known drivers (and of their
// connectors) to their system.
var driverSystems = map[string]string{
	"github.com/jackc/pgx/v5/stdlib":       SystemPostgres,
	"github.com/jackc/pgx/v4/stdlib":       SystemPostgres,
	"github.com/lib/pq":                    SystemPostgres,
	"github.com/go-sql-driver/mysql":       SystemMySQL,
	"modernc.org/sqlite":                   SystemSQLite,
	"github.com/mattn/go-sqlite3":          SystemSQLite,
	"github.com/ncruces/go-sqlite3/driver": SystemSQLite,
	"github.com/glebarez/go-sqlite":        SystemSQLite,
}

// systemOfType returns the system of a driver or connector by its
// package, or "".
func systemOfType(v any) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return ""
	}
	return driverSystems[t.PkgPath()]
}

// probeSystem asks a server of unknown kind (a driver the capture does not
// know, or one wrapped by another layer) what it is: PostgreSQL and MySQL
// answer version(), SQLite sqlite_version().
func probeSystem(ctx context.Context, c driver.Conn) (string, error) {
	if v, err := queryRow(ctx, c, 1, "SELECT version()"); err == nil {
		s := fmt.Sprint(v[0])
		if strings.Contains(s, "PostgreSQL") {
			return SystemPostgres, nil
		}
		return SystemMySQL, nil
	}
	if _, err := queryRow(ctx, c, 1, "SELECT sqlite_version()"); err == nil {
		return SystemSQLite, nil
	}
	return "", errors.New("racewaysql: cannot tell the database system; use WithSystem")
}

// queryRow runs query on the driver connection c (not through the capture)
// and returns its first row, of n columns, or an error when it fails,
// returns none or another number of columns.
func queryRow(ctx context.Context, c driver.Conn, n int, query string) ([]driver.Value, error) {
	rows, err := rawQuery(ctx, c, query, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if len(rows.Columns()) != n {
		return nil, fmt.Errorf("racewaysql: %d columns, want %d", len(rows.Columns()), n)
	}
	dest := make([]driver.Value, n)
	if err := rows.Next(dest); err != nil {
		if err == io.EOF {
			return nil, errors.New("racewaysql: no row")
		}
		return nil, err
	}
	return dest, nil
}

// rawQuery runs a query on the driver connection c, through the interface
// it has.
func rawQuery(ctx context.Context, c driver.Conn, query string, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := c.(driver.QueryerContext); ok {
		rows, err := q.QueryContext(ctx, query, args)
		if err != driver.ErrSkip {
			return rows, err
		}
	}
	var s driver.Stmt
	var err error
	if p, ok := c.(driver.ConnPrepareContext); ok {
		s, err = p.PrepareContext(ctx, query)
	} else {
		s, err = c.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	var rows driver.Rows
	if sq, ok := s.(driver.StmtQueryContext); ok {
		rows, err = sq.QueryContext(ctx, args)
	} else {
		var vals []driver.Value
		if vals, err = namedToValues(args); err == nil {
			//lint:ignore SA1019 the driver has only the old interface
			rows, err = s.Query(vals)
		}
	}
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return &stmtRows{Rows: rows, stmt: s}, nil
}

// stmtRows closes its statement with the rows.
type stmtRows struct {
	driver.Rows
	stmt driver.Stmt
}

func (r *stmtRows) Close() error {
	return errors.Join(r.Rows.Close(), r.stmt.Close())
}

// callOld calls f, a method of a driver's old interfaces (which take no
// context), with args converted for it, unless ctx is done: what
// database/sql does for a driver without the context methods.
func callOld[T any](ctx context.Context, args []driver.NamedValue, f func([]driver.Value) (T, error)) (T, error) {
	vals, err := namedToValues(args)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return f(vals)
}

// namedToValues converts arguments for the drivers' old interfaces, as
// database/sql does: they take no names.
func namedToValues(named []driver.NamedValue) ([]driver.Value, error) {
	vals := make([]driver.Value, len(named))
	for i, n := range named {
		if n.Name != "" {
			return nil, errors.New("sql: driver does not support the use of Named Parameters")
		}
		vals[i] = n.Value
	}
	return vals, nil
}

// sessionInfo is what the capture learns of a new connection: its
// database, the isolation level its transactions get by default, and
// (MySQL) whether it autocommits.
type sessionInfo struct {
	database   string
	iso        isolation
	autocommit bool
}

// learnSession asks the server for a new connection's sessionInfo.
// SQLite's database is its main file, by absolute path, or, for an
// in-memory database (which no other process can open), memoryDatabase.
func learnSession(ctx context.Context, c driver.Conn, system string) (sessionInfo, error) {
	info := sessionInfo{autocommit: true}
	switch system {
	case SystemPostgres:
		v, err := queryRow(ctx, c, 2, "SELECT current_database(), current_setting('default_transaction_isolation')")
		if err != nil {
			return info, err
		}
		info.database = text(v[0])
		info.iso, _ = levelText(text(v[1]))
	case SystemMySQL:
		v, err := queryRow(ctx, c, 3, "SELECT DATABASE(), @@SESSION.autocommit, @@SESSION.transaction_isolation")
		if err != nil { // MariaDB before 11.1 and MySQL 5.7 call it tx_isolation
			v, err = queryRow(ctx, c, 3, "SELECT DATABASE(), @@SESSION.autocommit, @@SESSION.tx_isolation")
		}
		if err != nil {
			return info, err
		}
		info.database = text(v[0])
		info.autocommit = text(v[1]) != "0"
		info.iso, _ = levelText(text(v[2]))
	case SystemSQLite:
		v, err := queryRow(ctx, c, 1, "SELECT file FROM pragma_database_list WHERE name = 'main'")
		if err != nil {
			return info, err
		}
		info.database = text(v[0])
		if info.database == "" {
			info.database = memoryDatabase
		}
		info.iso = isoSerializable
	}
	return info, nil
}

// memoryDatabase names SQLite's in-memory databases: "memory-" and a random
// id chosen once per process, since no other process can open them.
var memoryDatabase = func() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return "memory-" + hex.EncodeToString(b[:])
}()

// text is a driver value as text: strings and bytes as they are, NULL as
// "", numbers in decimal.
func text(v driver.Value) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	}
	return fmt.Sprint(v)
}
