package racewaysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/raceway-otel/raceway/racewayotel/internal/twogen"
)

// table is what the capture knows of a table: its columns and primary key,
// spelled as the catalog spells them, and the prefix of its rows' names.
type table struct {
	name   string   // the table as resource names spell it: qualified by its schema in PostgreSQL when that is not public
	prefix string   // "<system>/<database>/<name>"
	cols   []string // in table order
	pk     []int    // indexes into cols, in key order
	fold   bool     // column names compare case-insensitively (MySQL, SQLite)
}

// column returns the index of the column n names, if the table has it.
// PostgreSQL folds unquoted names to lower case; MySQL and SQLite compare
// column names case-insensitively.
func (t *table) column(n name) (int, bool) {
	want := n.text
	if !t.fold && !n.quoted {
		want = strings.ToLower(want)
	}
	return t.columnNamed(want)
}

// columnNamed returns the index of the column of a result set's column
// name (the catalog's spelling, or an alias).
func (t *table) columnNamed(s string) (int, bool) {
	for i, c := range t.cols {
		if c == s || t.fold && strings.EqualFold(c, s) {
			return i, true
		}
	}
	return 0, false
}

// errNoTable says the catalog does not know the table, or that it has no
// primary key: its rows have no name.
var errNoTable = errors.New("racewaysql: no such table, or no primary key")

// catalogKey is a table as statements name it on one database.
type catalogKey struct {
	database, schema, table string // as catalogName spells them
}

type catalogEntry struct {
	t       *table // nil: errNoTable
	checked time.Time
}

// catalog caches the tables of the databases a Connector reaches, looked
// up once each through the connection that first needs them. It is
// bounded: two generations of at most maxTables/2 tables, the older
// dropped when the newer is full. A table the catalog does not know is
// asked again after recheckAfter (it may be created), and a known one when
// a statement names a column it lacks (it may have been altered), at most
// once per recheckAfter (so that a name no catalog lists, as SQLite's
// rowid, does not cost a catalog query per statement).
type catalog struct {
	mu       sync.Mutex
	tables   twogen.Map[catalogKey, catalogEntry]
	declared map[string][]string // WithPrimaryKey: table → key columns
}

const (
	maxTables    = 1024
	recheckAfter = 5 * time.Second
)

func (c *catalog) get(k catalogKey) (catalogEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tables.Get(k, maxTables/2)
}

func (c *catalog) put(k catalogKey, e catalogEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tables.Put(k, e, maxTables/2)
}

// forgetStale drops k if it was looked up more than recheckAfter ago, so
// that the next lookup asks the database again, and reports whether it did.
func (c *catalog) forgetStale(k catalogKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.tables.Peek(k); !ok || time.Since(e.checked) < recheckAfter {
		return false
	}
	c.tables.Delete(k)
	return true
}

// lookup returns the table that ref names on database db of system sys,
// asking conn's catalog when it is not cached.
func (c *catalog) lookup(ctx context.Context, conn driver.Conn, sys, db string, ref tableRef) (*table, catalogKey, error) {
	k := catalogKey{database: db, schema: catalogName(sys, ref.schema), table: catalogName(sys, ref.table)}
	if e, ok := c.get(k); ok && (e.t != nil || time.Since(e.checked) < recheckAfter) {
		if e.t == nil {
			return nil, k, errNoTable
		}
		return e.t, k, nil
	}
	t, err := introspect(ctx, conn, sys, db, k.schema, k.table)
	if err != nil && !errors.Is(err, errNoTable) {
		return nil, k, err // not cached: asked again next time
	}
	if t != nil {
		if key, ok := c.declared[t.name]; ok {
			t.pk = t.pk[:0]
			for _, col := range key {
				i, ok := t.columnNamed(col)
				if !ok {
					t = nil
					break
				}
				t.pk = append(t.pk, i)
			}
		}
		if t != nil && len(t.pk) == 0 {
			t = nil
		}
	}
	c.put(k, catalogEntry{t: t, checked: time.Now()})
	if t == nil {
		return nil, k, errNoTable
	}
	return t, k, nil
}

// catalogName is how a system's catalog spells a table or schema name as
// written: PostgreSQL folds unquoted names to lower case, SQLite compares
// them case-insensitively, MySQL keeps them as written (its table names may
// be case-sensitive, quoted or not).
func catalogName(sys string, n name) string {
	switch {
	case sys == SystemPostgres && !n.quoted, sys == SystemSQLite:
		return strings.ToLower(n.text)
	}
	return n.text
}

// introspect asks the catalog of conn's database for a table's columns and
// primary key.
func introspect(ctx context.Context, conn driver.Conn, sys, db, schema, tab string) (*table, error) {
	var query string
	var args []driver.NamedValue
	switch sys {
	case SystemPostgres:
		ident := pgQuote(tab)
		if schema != "" {
			ident = pgQuote(schema) + "." + ident
		}
		query = `SELECT n.nspname, c.relname, a.attname, array_position(i.indkey::int2[], a.attnum)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE c.oid = to_regclass($1)
ORDER BY a.attnum`
		args = []driver.NamedValue{{Ordinal: 1, Value: ident}}
	case SystemMySQL:
		s := db
		if schema != "" {
			s = schema
		}
		query = `SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, s.SEQ_IN_INDEX
FROM information_schema.COLUMNS c
LEFT JOIN information_schema.STATISTICS s ON s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME
  AND s.COLUMN_NAME = c.COLUMN_NAME AND s.INDEX_NAME = 'PRIMARY'
WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ?
ORDER BY c.ORDINAL_POSITION`
		args = []driver.NamedValue{{Ordinal: 1, Value: s}, {Ordinal: 2, Value: tab}}
	case SystemSQLite:
		if schema != "" && schema != "main" {
			return nil, errNoTable // an attached database: another file, another name
		}
		query = `SELECT '', m.name, p.name, p.pk FROM sqlite_master m, pragma_table_info(m.name) p
WHERE m.type = 'table' AND m.name = ? COLLATE NOCASE ORDER BY p.cid`
		args = []driver.NamedValue{{Ordinal: 1, Value: tab}}
	}
	rows, err := rawQuery(ctx, conn, query, args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	t := &table{fold: sys != SystemPostgres}
	type keyCol struct{ pos, col int }
	var key []keyCol
	var schemaName, tableName string
	dest := make([]driver.Value, 4)
	for {
		if err := rows.Next(dest); err != nil {
			if err == io.EOF {
				break
			}
			return nil, err
		}
		schemaName, tableName = text(dest[0]), text(dest[1])
		if dest[3] != nil {
			pos := text(dest[3])
			if sys == SystemSQLite && pos == "0" {
				pos = "" // SQLite's pk is 0 for columns outside the key
			}
			if n, err := strconv.Atoi(pos); err == nil {
				key = append(key, keyCol{pos: n, col: len(t.cols)})
			}
		}
		t.cols = append(t.cols, text(dest[2]))
		if len(t.cols) > maxColumns {
			return nil, errNoTable
		}
	}
	if len(t.cols) == 0 {
		return nil, errNoTable
	}
	slices.SortFunc(key, func(a, b keyCol) int { return a.pos - b.pos })
	for _, k := range key {
		t.pk = append(t.pk, k.col)
	}
	t.name = tableName
	if sys == SystemPostgres && schemaName != "public" {
		t.name = schemaName + "." + tableName
	}
	if sys == SystemMySQL {
		db = schemaName // a MySQL schema is a database
	}
	t.prefix = sys + "/" + db + "/" + t.name
	return t, nil
}

// maxColumns bounds the columns of a table the capture names; wider tables
// are not captured.
const maxColumns = 256

// pgQuote quotes a PostgreSQL identifier.
func pgQuote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
