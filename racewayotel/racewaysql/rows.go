package racewaysql

import (
	"database/sql/driver"
	"io"
	"reflect"
	"slices"
)

// rows are the result rows of a statement being recorded: each row read
// names itself (by its key columns, or as the one row WHERE pins) and is
// recorded with the values read. Like conn, rows implement the optional
// interfaces database/sql looks for, answering as it would for a driver
// that lacks them.
type rows struct {
	baseRows
	x     *exec
	cols  []int // the table column of each result column, -1 for none
	key   []int // the result columns of the key, nil when rows do not carry it
	seen  int   // rows read
	lost  int   // rows read that could not be named
	ended bool  // the end was handled
}

// wrap returns rows that record the statement's rows as they are read. A
// SELECT's transaction holds its lock on the rows WHERE pins from now on.
func (x *exec) wrap(inner driver.Rows) driver.Rows {
	r := &rows{baseRows: baseRows{inner}, x: x}
	names := inner.Columns()
	items := x.st.items
	if x.st.kind != kindSelect {
		items = x.st.returning
	}
	r.cols = make([]int, len(names))
	star := false
	for _, it := range items {
		star = star || it.star
	}
	switch {
	case star: // the result's names are the catalog's
		for i, n := range names {
			r.cols[i] = -1
			if c, ok := x.t.columnNamed(n); ok {
				r.cols[i] = c
			}
		}
	case len(items) == len(names):
		for i, it := range items {
			r.cols[i] = -1
			if !it.other {
				if c, ok := x.t.column(it.col.col); ok {
					r.cols[i] = c
				}
			}
		}
	default:
		for i := range r.cols {
			r.cols[i] = -1
		}
	}
	for _, k := range x.t.pk {
		found := slices.Index(r.cols, k)
		if found < 0 {
			r.key = nil
			break
		}
		r.key = append(r.key, found)
	}
	if x.st.kind == kindSelect {
		x.lockAll() // FOR UPDATE locked them, returned or not
	}
	return r
}

func (r *rows) Next(dest []driver.Value) error {
	err := r.inner.Next(dest)
	switch {
	case err == nil:
		r.row(dest)
	case err == io.EOF:
		r.end()
	}
	return err
}

// Close ends the rows. Rows read are already recorded; what could only be
// recorded at the end (see end) is, unless the statement's context is done
// (database/sql then closes the rows from another goroutine).
func (r *rows) Close() error {
	if r.x.ctx.Err() == nil {
		r.end()
	}
	return r.inner.Close()
}

// row records one result row.
func (r *rows) row(dest []driver.Value) {
	r.seen++
	x := r.x
	key := ""
	switch {
	case r.key != nil:
		for p, i := range r.key {
			s, ok := keyText(dest[i])
			if !ok || dest[i] == nil {
				r.lost++
				return
			}
			if p > 0 {
				key += ","
			}
			key += escapeKey(s)
		}
	case len(x.keys) == 1 && x.keys[0] != "":
		key = x.keys[0]
	default:
		r.lost++
		return
	}
	reads, writes := x.reads, x.writes
	switch x.st.kind {
	case kindSelect:
		reads = nil
		for i, c := range r.cols {
			if c >= 0 {
				reads = appendColVal(reads, colVal{col: c, val: dest[i]})
			}
		}
		for _, w := range x.reads {
			reads = appendColVal(reads, w)
		}
	case kindInsert:
		writes = nil
		for j, k := range x.keys {
			if k == key || len(x.keys) == 1 {
				writes = x.rowWrites[j]
			}
		}
		if writes == nil {
			writes = make([]colVal, len(x.t.cols))
			for i := range writes {
				writes[i].col = i
			}
		}
	}
	if x.st.kind != kindSelect {
		// RETURNING gives the row as written: its values win.
		writes = withResults(writes, r.cols, dest, x.st.kind == kindDelete)
	}
	x.record(key, reads, writes)
}

// appendColVal adds v unless its column is there.
func appendColVal(cols []colVal, v colVal) []colVal {
	for _, c := range cols {
		if c.col == v.col {
			return cols
		}
	}
	return append(cols, v)
}

// withResults returns writes with the values of the result columns that
// return them (none for a DELETE, whose RETURNING gives what was removed).
func withResults(writes []colVal, cols []int, dest []driver.Value, deleted bool) []colVal {
	if deleted {
		return writes
	}
	out := make([]colVal, len(writes))
	copy(out, writes)
	for i, c := range cols {
		for j := range out {
			if c >= 0 && out[j].col == c {
				out[j].val = dest[i]
			}
		}
	}
	return out
}

// end records, once, what only the end of the rows tells: when rows did
// not name themselves but every row WHERE pins was returned (or, for a
// statement that changed rows, as many as it pins), each pinned row, with
// no values. Otherwise the unnamed rows are counted as skipped.
func (r *rows) end() {
	if r.ended {
		return
	}
	r.ended = true
	x := r.x
	if x.st.kind != kindSelect {
		defer x.lockAll() // it locked the rows it changed, read or not
		if len(x.st.returning) == 0 {
			// An UPDATE, DELETE or INSERT run as a query: no rows, and no
			// count of the rows it changed.
			x.c.skipped(reasonPartial)
			return
		}
	}
	if r.lost == 0 {
		return
	}
	if x.keys != nil && r.seen == len(x.keys) && r.lost == r.seen && x.st.kind != kindInsert {
		var reads []colVal
		if x.st.kind == kindSelect {
			for _, c := range r.cols {
				if c >= 0 {
					reads = appendColVal(reads, colVal{col: c})
				}
			}
		}
		for _, w := range x.reads {
			reads = appendColVal(reads, w)
		}
		for _, k := range x.keys {
			x.record(k, reads, x.writes)
		}
		return
	}
	x.unnamed()
}

// baseRows forward to the driver's rows every method database/sql may
// call, answering as database/sql would for a driver that lacks one.
type baseRows struct {
	inner driver.Rows
}

func (r baseRows) Columns() []string { return r.inner.Columns() }

func (r baseRows) Close() error { return r.inner.Close() }

func (r baseRows) Next(dest []driver.Value) error { return r.inner.Next(dest) }

func (r baseRows) HasNextResultSet() bool {
	if n, ok := r.inner.(driver.RowsNextResultSet); ok {
		return n.HasNextResultSet()
	}
	return false
}

func (r baseRows) NextResultSet() error {
	if n, ok := r.inner.(driver.RowsNextResultSet); ok {
		return n.NextResultSet()
	}
	return io.EOF
}

func (r baseRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.inner.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r baseRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.inner.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r baseRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.inner.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r baseRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.inner.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r baseRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.inner.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
