package racewaysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/raceway-otel/raceway/racewayotel"
)

// maxKeys bounds the rows a statement names in its WHERE clause (IN lists,
// and their products for a composite key) that the capture follows.
const maxKeys = 1024

// colVal is one column access of a row: the table's column, and its value
// when known.
type colVal struct {
	col int
	val any // nil: none
}

// exec is one execution of a data statement that the capture understood:
// it names the rows and columns the statement touches and records them once
// the statement ran (Exec) or as its rows are read (Query).
type exec struct {
	c   *conn
	ctx context.Context
	st  *statement
	t   *table
	key catalogKey // t's in the catalog
	// stale is set when t lacks a column the statement names and the
	// catalog forgot it as looked up too long ago: plan tries once more.
	stale bool
	// keys are the rows WHERE pins (SELECT, UPDATE, DELETE) or that VALUES
	// inserts (INSERT: one per row, "" when the row's key is not given); nil
	// when WHERE pins none.
	keys []string
	// reads and writes are the column accesses of every row; INSERT's
	// writes are rowWrites, one per VALUES row.
	reads, writes []colVal
	rowWrites     [][]colVal
	own           lockMode // the lock the statement's own accesses hold
	txLock        lockMode // the lock the transaction holds on the rows afterwards
	recorded      int      // rows recorded
	full          bool     // maxRows reached and counted
}

// skipped counts a statement the capture does not record.
func (c *conn) skipped(reason string) {
	c.cap.rw.CountSkipped(c.sess.system, reason)
}

// start decides what to record for a statement about to run with args:
// the exec to complete once it ran, or why it is skipped (counted once it
// ran), or neither for a statement that touches no row. Transaction control
// takes effect in finish.
func (c *conn) start(ctx context.Context, st *statement, query string, args []driver.NamedValue) (*exec, string) {
	s := &c.sess
	if s.err != nil {
		if st.kind >= kindSelect && st.kind <= kindDelete || st.kind == kindSkip {
			return nil, reasonSession
		}
		return nil, ""
	}
	switch st.kind {
	case kindSkip:
		if s.skipMayLock(query) {
			s.tx.opaque = true
		}
		return nil, st.reason
	case kindSelect, kindInsert, kindUpdate, kindDelete:
	default:
		return nil, ""
	}
	tx := s.inTx()
	if tx != nil && tx.opaque {
		return nil, reasonOpaque
	}
	x, reason := c.plan(ctx, st, args)
	if reason != "" {
		mayLock := st.kind != kindSelect || st.lock != lockNone || s.system == SystemMySQL && tx != nil && tx.iso == isoSerializable
		if tx != nil && mayLock && !s.strict(tx) && s.system != SystemSQLite {
			tx.opaque = true // it may lock rows the capture cannot name
		}
		return nil, reason
	}
	return x, ""
}

// plan resolves a statement against its table and arguments. When the
// table, as cached, lacks a column the statement names, it may have been
// altered since: plan tries once more with the table as the catalog has it
// now (see catalog).
func (c *conn) plan(ctx context.Context, st *statement, args []driver.NamedValue) (*exec, string) {
	x, reason := c.planWith(ctx, st, args)
	if x != nil && x.stale {
		x, reason = c.planWith(ctx, st, args)
	}
	if reason != "" {
		return nil, reason
	}
	return x, ""
}

// planWith resolves a statement against its table as the catalog has it
// now. It returns why the statement is skipped, if it is, and the exec
// whenever the table was found (its stale field tells plan to try again).
func (c *conn) planWith(ctx context.Context, st *statement, args []driver.NamedValue) (*exec, string) {
	s := &c.sess
	t, k, err := c.cap.catalog.lookup(ctx, c.inner, s.system, s.database, st.table)
	switch {
	case errors.Is(err, errNoTable):
		return nil, reasonTable
	case err != nil:
		return nil, reasonCatalog
	}
	x := &exec{c: c, ctx: ctx, st: st, t: t, key: k}
	addRead := func(cr colRef, upsert bool) string {
		if upsert && cr.qual.text != "" && !x.targets(cr.qual) {
			return "" // EXCLUDED.col, new.col: the proposed row, not a read
		}
		i, r := x.column(cr)
		if r != "" {
			return r
		}
		x.reads = appendColVal(x.reads, colVal{col: i})
		return ""
	}
	for _, cr := range st.whereCols {
		if r := addRead(cr, false); r != "" {
			return x, r
		}
	}
	if st.kind != kindInsert {
		keys, r := x.whereKeys(args)
		if r != "" {
			return x, r
		}
		x.keys = keys
	}
	tx := s.tx
	switch st.kind {
	case kindSelect:
		x.own = st.lock
		if x.own == lockNone && tx != nil && s.system == SystemMySQL && tx.iso == isoSerializable {
			x.own = lockShared // InnoDB's SERIALIZABLE reads FOR SHARE inside transactions
		}
		x.txLock = x.own
		for _, it := range st.items {
			if it.star || it.other {
				continue
			}
			if _, r := x.column(it.col); r != "" {
				return x, r
			}
		}
		if x.keys == nil && !x.hasKey(st.items) {
			return x, reasonNoKey
		}
	case kindUpdate, kindDelete:
		x.txLock = lockExclusive
		for _, a := range st.sets {
			i, r := x.column(a.col)
			if r != "" {
				return x, r
			}
			for _, cr := range a.reads {
				if r := addRead(cr, false); r != "" {
					return x, r
				}
			}
			v, r := argValue(a.val, args)
			if r != "" {
				return x, r
			}
			x.writes = append(x.writes, colVal{col: i, val: v})
		}
		if st.kind == kindDelete {
			for i := range t.cols {
				x.writes = append(x.writes, colVal{col: i})
			}
		}
		if x.keys == nil && !x.hasKey(st.returning) {
			return x, reasonNoKey
		}
	case kindInsert:
		x.txLock = lockExclusive
		for _, a := range st.sets {
			if _, r := x.column(a.col); r != "" {
				return x, r
			}
			for _, cr := range a.reads {
				if r := addRead(cr, true); r != "" {
					return x, r
				}
			}
		}
		cols, r := x.insertCols()
		if r != "" {
			return x, r
		}
		if len(st.rows) > maxKeys {
			return x, reasonTooMany
		}
		for _, row := range st.rows {
			key, r := x.rowKey(cols, row, args)
			if r != "" {
				return x, r
			}
			x.keys = append(x.keys, key)
			// Every column of a new row is written; those the statement
			// gives have their value, unless an upsert may update instead.
			w := make([]colVal, len(t.cols))
			for i := range w {
				w[i].col = i
			}
			for j, c := range cols {
				if v, _ := argValue(row[j], args); !st.upsert {
					w[c].val = v
				}
			}
			x.rowWrites = append(x.rowWrites, w)
		}
	}
	if st.kind != kindSelect {
		// What an UPDATE, DELETE or upsert reads of a row (SET stock =
		// stock - 1, WHERE … AND stock > 0) it reads under the row lock it
		// writes with: see record.
		x.own = x.txLock
	}
	return x, ""
}

// targets reports whether a column qualifier names the statement's table:
// none, the table's name, or its alias.
func (x *exec) targets(q name) bool {
	if q.text == "" {
		return true
	}
	if x.st.alias.text != "" {
		return sameName(q, x.st.alias, x.t.fold)
	}
	return sameName(q, x.st.table.table, x.t.fold)
}

func sameName(a, b name, fold bool) bool {
	if fold || !a.quoted && !b.quoted {
		return strings.EqualFold(a.text, b.text)
	}
	if a.quoted && b.quoted {
		return a.text == b.text
	}
	if a.quoted {
		return a.text == strings.ToLower(b.text)
	}
	return b.text == strings.ToLower(a.text)
}

// column returns the index of the column cr names in the statement's table,
// or reasonColumn (see missingColumn).
func (x *exec) column(cr colRef) (int, string) {
	if !x.targets(cr.qual) {
		return 0, reasonColumn
	}
	i, ok := x.t.column(cr.col)
	if !ok {
		return 0, x.missingColumn()
	}
	return i, ""
}

// missingColumn returns reasonColumn for a column the table lacks, first
// making the catalog forget the table if it was looked up long enough ago:
// it may have been altered since.
func (x *exec) missingColumn() string {
	x.stale = x.stale || x.c.cap.catalog.forgetStale(x.key)
	return reasonColumn
}

// hasKey reports whether output items include every primary key column
// (or *), so that each result row names itself.
func (x *exec) hasKey(items []item) bool {
	for _, it := range items {
		if it.star {
			return true
		}
	}
	for _, k := range x.t.pk {
		found := false
		for _, it := range items {
			if it.other || it.star {
				continue
			}
			if i, r := x.column(it.col); r == "" && i == k {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// whereKeys returns the rows that WHERE pins: every primary key column
// equal to a value or in a list, in all combinations; nil when some key
// column is not pinned.
func (x *exec) whereKeys(args []driver.NamedValue) ([]string, string) {
	if len(x.st.keys) == 0 {
		return nil, ""
	}
	per := make([][]string, len(x.t.pk))
	for _, kc := range x.st.keys {
		i, r := x.column(kc.col)
		if r != "" {
			return nil, r
		}
		pos := slices.Index(x.t.pk, i)
		if pos < 0 {
			x.reads = appendColVal(x.reads, colVal{col: i}) // a condition on another column reads it
			continue
		}
		var vals []string
		for _, v := range kc.vals {
			a, r := argValue(v, args)
			if r != "" {
				return nil, r
			}
			if kc.any {
				list, ok := listText(a)
				if !ok {
					return nil, reasonArgument
				}
				vals = append(vals, list...)
				continue
			}
			if a == nil {
				continue // = NULL matches no row
			}
			s, ok := keyText(a)
			if !ok {
				return nil, reasonArgument
			}
			vals = append(vals, s)
		}
		if per[pos] != nil {
			per[pos] = intersect(per[pos], vals)
		} else {
			per[pos] = dedupe(vals)
		}
	}
	n := 1
	for _, vals := range per {
		if vals == nil {
			return nil, "" // a key column WHERE does not pin
		}
		n *= len(vals)
		if n > maxKeys {
			return nil, reasonTooMany
		}
	}
	keys := []string{""}
	for p, vals := range per {
		next := make([]string, 0, len(keys)*len(vals))
		for _, k := range keys {
			for _, v := range vals {
				if p > 0 {
					next = append(next, k+","+escapeKey(v))
				} else {
					next = append(next, escapeKey(v))
				}
			}
		}
		keys = next
	}
	return keys, ""
}

func dedupe(vals []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, v := range a {
		if slices.Contains(b, v) {
			out = append(out, v)
		}
	}
	return out
}

// insertCols resolves INSERT's column list (the table's columns in order
// when it has none).
func (x *exec) insertCols() ([]int, string) {
	if x.st.insertCols == nil {
		cols := make([]int, len(x.t.cols))
		for i := range cols {
			cols[i] = i
		}
		for _, row := range x.st.rows {
			if len(row) != len(cols) {
				return nil, x.missingColumn()
			}
		}
		return cols, ""
	}
	cols := make([]int, len(x.st.insertCols))
	for j, cr := range x.st.insertCols {
		i, r := x.column(cr)
		if r != "" {
			return nil, r
		}
		cols[j] = i
	}
	return cols, ""
}

// rowKey returns the key an INSERT row gives, or "" when it does not give
// all key columns as values.
func (x *exec) rowKey(cols []int, row []value, args []driver.NamedValue) (string, string) {
	var b strings.Builder
	for p, k := range x.t.pk {
		j := slices.Index(cols, k)
		if j < 0 || row[j].kind == valExpr || row[j].kind == valDefault || row[j].kind == valNull {
			return "", ""
		}
		a, r := argValue(row[j], args)
		if r != "" {
			return "", r
		}
		s, ok := keyText(a)
		if !ok {
			return "", reasonArgument
		}
		if p > 0 {
			b.WriteByte(',')
		}
		b.WriteString(escapeKey(s))
	}
	return b.String(), ""
}

// argValue returns the value of v: its argument, or the literal's text;
// nil for NULL, DEFAULT and expressions.
func argValue(v value, args []driver.NamedValue) (any, string) {
	switch v.kind {
	case valLiteral:
		return v.text, ""
	case valParam:
		for _, a := range args {
			if v.name != "" && a.Name == v.name || v.name == "" && a.Ordinal == v.ordinal && (a.Name == "" || v.ordinal > 0) {
				return a.Value, ""
			}
		}
		return nil, reasonArgument
	}
	return nil, ""
}

// keyText returns the text of a key value, the same whether it came from an
// argument or a result row; false for values that are not scalars.
func keyText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int:
		return strconv.Itoa(v), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case int16:
		return strconv.FormatInt(int64(v), 10), true
	case int8:
		return strconv.FormatInt(int64(v), 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case uint:
		return strconv.FormatUint(uint64(v), 10), true
	case uint32:
		return strconv.FormatUint(uint64(v), 10), true
	case uint16:
		return strconv.FormatUint(uint64(v), 10), true
	case uint8:
		return strconv.FormatUint(uint64(v), 10), true
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32), true
	case bool:
		return strconv.FormatBool(v), true
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano), true
	case driver.Valuer:
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return "", false
		}
		dv, err := v.Value()
		if err != nil || dv == nil {
			return "", false
		}
		if _, again := dv.(driver.Valuer); again {
			return "", false
		}
		return keyText(dv)
	case fmt.Stringer:
		return v.String(), true
	}
	return "", false
}

// listText returns the texts of an array argument's elements (= ANY($1)).
func listText(v any) ([]string, bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice || rv.Type().Elem().Kind() == reflect.Uint8 || rv.Len() > maxKeys {
		return nil, false
	}
	out := make([]string, 0, rv.Len())
	for i := range rv.Len() {
		s, ok := keyText(rv.Index(i).Interface())
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// escapeKey writes a key value so that names stay unambiguous: %, / and ,
// (which separate a name's parts and a composite key's columns) are
// percent-encoded.
func escapeKey(s string) string {
	if !strings.ContainsAny(s, "%/,") {
		return s
	}
	return keyEscaper.Replace(s)
}

var keyEscaper = strings.NewReplacer("%", "%25", "/", "%2F", ",", "%2C")

// record records the accesses of one row, key, of the statement: reads,
// then writes (a row's read-modify-write in one statement reads first),
// each holding the locks locksFor says; then the transaction takes its
// lock on the row.
func (x *exec) record(key string, reads, writes []colVal) {
	if x.recorded >= x.c.cap.cfg.maxRows {
		if !x.full {
			x.full = true
			x.c.skipped(reasonTooMany)
		}
		return
	}
	x.recorded++
	s := &x.c.sess
	row := x.t.prefix + "/" + key
	xl, rl := s.locksFor(row, x.own)
	var bxl, brl []string
	if len(writes) > 0 {
		bxl, brl = s.locksFor(row, s.upgrade(row))
	}
	skip := x.c.cap.cfg.callerSkip
	acc := make([]racewayotel.SharedAccess, 0, len(reads)+len(writes))
	for _, r := range reads {
		acc = append(acc, racewayotel.SharedAccess{
			Resource: row + "." + x.t.cols[r.col], Access: racewayotel.Read, New: r.val,
			Locks: xl, RLocks: rl, CallerSkip: skip,
		})
	}
	for _, w := range writes {
		// A write holds the statement's own lock when the statement also
		// read that column (SET stock = stock - 1): one atomic
		// read-modify-write. A blind write (SET stock = $1) takes the row
		// lock as it writes, which orders nothing before it: it holds only
		// what the transaction held already (see session.upgrade).
		a := racewayotel.SharedAccess{
			Resource: row + "." + x.t.cols[w.col], Access: racewayotel.Write, New: w.val, OldSeen: true,
			Locks: bxl, RLocks: brl, CallerSkip: skip,
		}
		for _, r := range reads {
			if r.col == w.col {
				a.Locks, a.RLocks = xl, rl
			}
		}
		acc = append(acc, a)
	}
	x.c.cap.rw.TrackSharedAccesses(x.ctx, acc)
	s.acquire(row, x.txLock)
}

// lockAll makes the transaction hold its lock on every named row, as when
// a statement locked rows it may not have returned or changed: holding more
// than the database does can hide a race, never invent one.
func (x *exec) lockAll() {
	for _, k := range x.keys {
		if k != "" {
			x.c.sess.acquire(x.t.prefix+"/"+k, x.txLock)
		}
	}
}

// done records an executed statement (no rows read), from the rows it
// reports changed.
func (x *exec) done(res driver.Result) {
	n, err := res.RowsAffected()
	if err != nil {
		x.c.skipped(reasonPartial)
		x.lockAll()
		return
	}
	switch x.st.kind {
	case kindSelect: // executed, not queried: nothing was read, but rows may be locked
		if x.txLock != lockNone {
			if x.keys != nil {
				x.lockAll()
			} else {
				x.unnamed()
			}
		}
		return
	case kindInsert:
		x.doneInsert(res, n)
		return
	}
	if x.keys == nil {
		x.c.skipped(reasonNoKey) // RETURNING named the rows, but Exec discarded them
		return
	}
	switch {
	case n == 0:
	case int(n) == len(x.keys):
		for _, k := range x.keys {
			x.record(k, x.reads, x.writes)
		}
	default:
		x.c.skipped(reasonPartial)
		x.lockAll()
	}
}

func (x *exec) doneInsert(res driver.Result, n int64) {
	rows := len(x.st.rows)
	all := int(n) == rows
	if x.st.upsert && x.c.sess.system == SystemMySQL {
		// MySQL counts a row an upsert updated as 2 and one it left as it
		// was as 0: only these totals say what happened to every row.
		all = rows == 1 && n > 0 || int(n) == 2*rows
	}
	switch {
	case n == 0:
		return
	case !all:
		x.c.skipped(reasonPartial)
		x.lockAll()
		return
	}
	for r, key := range x.keys {
		writes := x.rowWrites[r]
		if key == "" && rows == 1 && len(x.t.pk) == 1 {
			if id, err := res.LastInsertId(); err == nil && id > 0 {
				// An auto-increment key (MySQL, SQLite): the new row's.
				key = strconv.FormatInt(id, 10)
				writes = append([]colVal(nil), writes...)
				for i := range writes {
					if writes[i].col == x.t.pk[0] && !x.st.upsert {
						writes[i].val = id
					}
				}
			}
		}
		if key == "" {
			x.unnamed()
			continue
		}
		x.record(key, x.reads, writes)
	}
}

// unnamed counts rows the statement changed whose key the capture could not
// learn. In a transaction that follows row locks, such a row is locked by a
// name the capture lacks, so the transaction becomes opaque.
func (x *exec) unnamed() {
	x.c.skipped(reasonNoKey)
	s := &x.c.sess
	if tx := s.tx; tx != nil && x.txLock != lockNone && !s.strict(tx) && s.system != SystemSQLite {
		tx.opaque = true
	}
}
