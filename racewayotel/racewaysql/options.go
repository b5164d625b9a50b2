package racewaysql

import "strings"

// config holds the settings of a wrapped driver or connector.
type config struct {
	system, database string
	primaryKeys      map[string][]string
	callerSkip       []string
	maxRows          int
}

// DefaultMaxRows is the default of [WithMaxRows].
const DefaultMaxRows = 100

// defaultCallerSkip are the packages between an application and the
// capture that a record's code location skips: database/sql, otelsql, and
// the common ORMs and query builders.
var defaultCallerSkip = []string{
	"database/sql",
	"github.com/XSAM/otelsql",
	"gorm.io",
	"github.com/jmoiron/sqlx",
	"github.com/uptrace/bun",
	"entgo.io/ent",
	"github.com/Masterminds/squirrel",
	"github.com/doug-martin/goqu",
}

// Option configures a wrapped driver or connector.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func newConfig(opts []Option) config {
	c := config{maxRows: DefaultMaxRows, callerSkip: defaultCallerSkip}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// WithSystem declares the database system: [SystemPostgres],
// [SystemMySQL] (MySQL and MariaDB) or [SystemSQLite]. It is the first part
// of every resource name, and says how statements are spelled. By default
// it is known from the driver (pgx, lib/pq, go-sql-driver/mysql,
// modernc.org/sqlite, mattn/go-sqlite3) or, for a driver the capture does
// not know (or one wrapped by another layer), asked once of the server
// (version(), sqlite_version()). Another value is ignored.
func WithSystem(system string) Option {
	return optionFunc(func(c *config) {
		if _, ok := dialectOf(system); ok {
			c.system = system
		}
	})
}

// WithDatabase declares the database name, the second part of every
// resource name. By default each connection asks the server
// (current_database() in PostgreSQL, DATABASE() in MySQL); SQLite's is its
// main file's absolute path, or "memory-" and a random id chosen once per
// process for an in-memory database, which no other process shares. Declare it when
// two servers hold databases of the same name that the same services use,
// or when a file is reached by several paths. An empty name is ignored.
func WithDatabase(name string) Option {
	return optionFunc(func(c *config) {
		if name != "" {
			c.database = name
		}
	})
}

// WithPrimaryKey declares the columns that identify the rows of table (as
// it appears in resource names after the database: "products", or
// "schema.table" for a PostgreSQL schema other than public; a MySQL table
// by its name alone, in whichever database), instead of the table's primary key
// as the catalog says: for a table without one, or to name rows by another
// unique key. The table's columns are still asked of the catalog.
func WithPrimaryKey(table string, columns ...string) Option {
	return optionFunc(func(c *config) {
		if table == "" || len(columns) == 0 {
			return
		}
		if c.primaryKeys == nil {
			c.primaryKeys = map[string][]string{}
		}
		c.primaryKeys[table] = columns
	})
}

// WithCallerSkip adds packages (import paths; a path also stands for its
// subpackages) to skip when locating a record's code: the record is located
// at the first caller outside them, racewayotel's packages, database/sql,
// otelsql and the common ORMs (GORM, sqlx, bun, ent, squirrel, goqu). Add a
// repository layer of your own to locate records at its callers.
func WithCallerSkip(pkgs ...string) Option {
	return optionFunc(func(c *config) {
		for _, p := range pkgs {
			if p = strings.TrimSpace(p); p != "" {
				c.callerSkip = append(c.callerSkip[:len(c.callerSkip):len(c.callerSkip)], p)
			}
		}
	})
}

// WithMaxRows sets how many rows of one statement the capture records
// ([DefaultMaxRows] by default); rows beyond are not recorded, and counted
// once per statement as skipped ("too many"). Values below 1 select the
// default.
func WithMaxRows(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			n = DefaultMaxRows
		}
		c.maxRows = n
	})
}
