package racewaysql

import (
	"strings"
)

// stmtKind is what a statement does, as far as the capture is concerned.
type stmtKind uint8

const (
	kindSkip       stmtKind = iota // not understood: counted, nothing recorded
	kindNone                       // understood, and touches no row (SET, SHOW, SELECT 1, savepoints)
	kindSelect                     // reads rows
	kindInsert                     // writes new rows (or, as an upsert, existing ones)
	kindUpdate                     // reads and writes rows
	kindDelete                     // writes (removes) rows
	kindBegin                      // starts a transaction
	kindCommit                     // ends it
	kindRollback                   // ends it
	kindIsolation                  // sets an isolation level (see statement.isoScope)
	kindAutocommit                 // MySQL's SET autocommit
	kindUse                        // MySQL's USE db
	kindTableLock                  // LOCK TABLE(S): the capture stops seeing the transaction's locks
	kindAdvisory                   // SELECT pg_advisory_lock(…), GET_LOCK(…): see advisory.go
)

// lockMode is how a statement or a transaction holds a row lock.
type lockMode uint8

const (
	lockNone      lockMode = iota
	lockShared             // FOR SHARE, LOCK IN SHARE MODE
	lockExclusive          // FOR UPDATE, FOR NO KEY UPDATE, the lock of an UPDATE, DELETE or INSERT
)

// isolation is a transaction isolation level.
type isolation uint8

const (
	isoDefault isolation = iota // the session's
	isoReadUncommitted
	isoReadCommitted
	isoRepeatableRead
	isoSerializable
)

// isoScope is what a SET … ISOLATION LEVEL applies to.
type isoScope uint8

const (
	isoThisTx  isoScope = iota // PostgreSQL's SET TRANSACTION: the current transaction
	isoNextTx                  // MySQL's SET TRANSACTION: the next transaction
	isoSession                 // the session's default from now on
)

// name is an identifier as written: quoted identifiers keep their case.
type name struct {
	text   string
	quoted bool
}

// tableRef is a table as a statement names it.
type tableRef struct {
	schema name // empty when unqualified
	table  name
}

// colRef is a column as a statement names it, with its qualifier (a table
// or an alias), if any.
type colRef struct {
	qual name
	col  name
}

// valueKind says what an expression of a statement is.
type valueKind uint8

const (
	valExpr    valueKind = iota // anything else: computed by the database
	valLiteral                  // a string or number written in the statement
	valParam                    // a parameter placeholder
	valNull                     // NULL
	valDefault                  // DEFAULT
)

// value is an expression where the capture wants its value: a key in WHERE,
// an assigned or inserted value.
type value struct {
	kind    valueKind
	text    string // valLiteral
	ordinal int    // valParam: the argument's ordinal, or 0 with name
	name    string // valParam: a named parameter
}

// keyCond is a conjunct of WHERE that pins a column to values: col = v,
// col IN (v, …), col = ANY(v) with v an array argument.
type keyCond struct {
	col  colRef
	vals []value
	any  bool // = ANY(vals[0]), an array
}

// assignment is col = expr of UPDATE … SET or ON CONFLICT DO UPDATE SET;
// reads are the target row's columns expr reads.
type assignment struct {
	col   colRef
	val   value
	reads []colRef
}

// item is one output column of SELECT or RETURNING.
type item struct {
	star bool   // * or t.*
	col  colRef // a plain column, when !star and !other
	// other is a constant or an expression the capture does not attribute
	// to a column: it takes a place in the result but records nothing.
	other bool
}

// statement is what the capture understood of one SQL statement.
type statement struct {
	kind   stmtKind
	reason string // kindSkip: why, a short fixed text (the metric's raceway.reason)

	table tableRef
	alias name

	items []item   // SELECT's output columns
	lock  lockMode // SELECT … FOR UPDATE / FOR SHARE

	keys      []keyCond // WHERE's conjuncts that pin key columns
	whereCols []colRef  // columns WHERE's other conjuncts read
	hasWhere  bool

	sets []assignment // UPDATE, and the update part of an upsert

	insertCols []colRef  // INSERT's column list; nil: the table's columns in order
	rows       [][]value // INSERT's VALUES
	upsert     bool      // ON CONFLICT DO UPDATE, ON DUPLICATE KEY UPDATE, REPLACE
	ignore     bool      // ON CONFLICT DO NOTHING, INSERT IGNORE, INSERT OR IGNORE

	returning []item // RETURNING's output columns

	iso      isolation // BEGIN … ISOLATION LEVEL, SET … ISOLATION LEVEL
	isoScope isoScope
	chain    bool   // COMMIT/ROLLBACK AND CHAIN: a new transaction begins
	on       bool   // kindAutocommit: SET autocommit = 1
	database string // kindUse

	advisory *advisoryCall // kindAdvisory
}

// skip returns a statement skipped for reason.
func skip(reason string) *statement { return &statement{kind: kindSkip, reason: reason} }

// Skip reasons, the raceway.reason attribute of raceway.capture.skipped.
const (
	reasonSyntax     = "syntax"          // not SQL the capture reads (or not SQL)
	reasonDDL        = "ddl"             // CREATE, ALTER, DROP, TRUNCATE…
	reasonStatement  = "statement"       // a statement kind the capture does not model (WITH, MERGE, CALL, COPY…)
	reasonJoin       = "join"            // more than one table
	reasonSubquery   = "subquery"        // a nested SELECT
	reasonExpression = "expression"      // an output column that is not a column (an aggregate, a function)
	reasonNoKey      = "no key"          // the rows touched cannot be named
	reasonColumn     = "unknown column"  // a column the table does not have
	reasonTable      = "unknown table"   // a table the catalog does not know, or without a primary key
	reasonArgument   = "argument"        // a key whose argument is missing or not a scalar
	reasonOpaque     = "locks unknown"   // inside a transaction whose locks the capture lost track of (LOCK TABLE…)
	reasonTooMany    = "too many"        // more rows, keys or locks than the capture's bounds
	reasonPartial    = "partial"         // fewer rows changed than named, and which is unknown
	reasonSession    = "session unknown" // the connection's database could not be learnt
	reasonCatalog    = "catalog error"   // the primary key could not be looked up
	reasonLockResult = "lock result"     // a try-lock run with Exec: whether it locked is unknown
)

// parser reads tokens.
type parser struct {
	toks []token
	pos  int
	d    dialect
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{}
}

func (p *parser) peekAt(k int) token {
	if p.pos+k < len(p.toks) {
		return p.toks[p.pos+k]
	}
	return token{}
}

func (p *parser) next() token {
	t := p.peek()
	if p.pos < len(p.toks) {
		p.pos++
	}
	return t
}

func (p *parser) eof() bool { return p.pos >= len(p.toks) }

// accept consumes the keyword kw if it is next.
func (p *parser) accept(kw string) bool {
	if p.peek().is(kw) {
		p.pos++
		return true
	}
	return false
}

// acceptSeq consumes the keywords kws if they are all next.
func (p *parser) acceptSeq(kws ...string) bool {
	for k, kw := range kws {
		if !p.peekAt(k).is(kw) {
			return false
		}
	}
	p.pos += len(kws)
	return true
}

func (p *parser) acceptPunct(s string) bool {
	if p.peek().punct(s) {
		p.pos++
		return true
	}
	return false
}

// parse reads one statement of dialect d.
func parse(query string, d dialect) *statement {
	toks, err := lex(query, d)
	if err != nil {
		return skip(reasonSyntax)
	}
	p := &parser{toks: toks, d: d}
	if p.eof() {
		return &statement{kind: kindNone}
	}
	first := p.next()
	if first.kind != tokIdent || first.quoted {
		if first.punct("(") {
			return skip(reasonStatement) // (SELECT …) UNION …
		}
		return skip(reasonSyntax)
	}
	var st *statement
	switch strings.ToUpper(first.text) {
	case "SELECT":
		if a, ok := p.parseAdvisory(); ok {
			st = a
		} else {
			st = p.parseSelect()
		}
	case "INSERT":
		st = p.parseInsert(false)
	case "REPLACE":
		st = p.parseInsert(true)
	case "UPDATE":
		st = p.parseUpdate()
	case "DELETE":
		st = p.parseDelete()
	case "BEGIN", "START":
		st = p.parseBegin(first.is("START"))
	case "COMMIT", "END":
		st = p.parseEnd(kindCommit)
	case "ROLLBACK", "ABORT":
		st = p.parseEnd(kindRollback)
	case "SET":
		st = p.parseSet()
	case "USE":
		t := p.next()
		if t.kind != tokIdent || !p.eof() {
			return skip(reasonSyntax)
		}
		st = &statement{kind: kindUse, database: t.text}
	case "LOCK":
		st = &statement{kind: kindTableLock}
		p.pos = len(p.toks)
	case "UNLOCK": // MySQL's UNLOCK TABLES ends LOCK TABLES' implicit transaction
		st = &statement{kind: kindCommit}
		p.pos = len(p.toks)
	case "SAVEPOINT", "RELEASE", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "PRAGMA", "RESET", "DISCARD",
		"LISTEN", "UNLISTEN", "NOTIFY", "CHECKPOINT", "VACUUM", "ANALYZE", "DEALLOCATE", "PREPARE", "EXECUTE",
		"DECLARE", "FETCH", "CLOSE", "MOVE", "HANDLER", "FLUSH", "KILL", "DO":
		if first.is("EXPLAIN") && p.peek().is("ANALYZE") || first.is("EXECUTE") || first.is("DO") {
			return skip(reasonStatement) // runs a statement the capture does not see
		}
		st = &statement{kind: kindNone}
		p.pos = len(p.toks)
	case "CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME", "GRANT", "REVOKE", "COMMENT", "REINDEX", "CLUSTER", "REFRESH", "ATTACH", "DETACH":
		return skip(reasonDDL)
	default:
		return skip(reasonStatement)
	}
	if st.kind != kindSkip && !p.eof() {
		return skip(reasonSyntax)
	}
	return st
}

// parseBegin reads BEGIN [WORK | TRANSACTION] [DEFERRED | IMMEDIATE |
// EXCLUSIVE] [ISOLATION LEVEL …] [READ ONLY | READ WRITE] [[NOT] DEFERRABLE]
// and START TRANSACTION [READ ONLY | READ WRITE | WITH CONSISTENT SNAPSHOT].
func (p *parser) parseBegin(start bool) *statement {
	st := &statement{kind: kindBegin}
	if start && !p.accept("TRANSACTION") {
		return skip(reasonSyntax)
	}
	p.accept("DEFERRED")
	p.accept("IMMEDIATE")
	p.accept("EXCLUSIVE")
	p.accept("WORK")
	p.accept("TRANSACTION")
	if !p.parseTxModes(st) {
		return skip(reasonSyntax)
	}
	return st
}

// parseTxModes reads the transaction modes that end BEGIN, START
// TRANSACTION and SET TRANSACTION, keeping the isolation level in st.
func (p *parser) parseTxModes(st *statement) bool {
	for !p.eof() {
		switch {
		case p.acceptSeq("ISOLATION", "LEVEL"):
			iso, ok := p.parseLevel()
			if !ok {
				return false
			}
			st.iso = iso
		case p.acceptSeq("READ", "ONLY"), p.acceptSeq("READ", "WRITE"), p.acceptSeq("NOT", "DEFERRABLE"),
			p.accept("DEFERRABLE"), p.acceptSeq("WITH", "CONSISTENT", "SNAPSHOT"), p.acceptPunct(","):
		case p.accept("SNAPSHOT"): // SET TRANSACTION SNAPSHOT 'id'
			p.next()
		default:
			return false
		}
	}
	return true
}

// parseLevel reads an isolation level's name.
func (p *parser) parseLevel() (isolation, bool) {
	switch {
	case p.acceptSeq("READ", "UNCOMMITTED"):
		return isoReadUncommitted, true
	case p.acceptSeq("READ", "COMMITTED"):
		return isoReadCommitted, true
	case p.acceptSeq("REPEATABLE", "READ"):
		return isoRepeatableRead, true
	case p.accept("SERIALIZABLE"):
		return isoSerializable, true
	}
	return 0, false
}

// levelText parses an isolation level written as a string or a setting
// value ('repeatable read', REPEATABLE-READ).
func levelText(s string) (isolation, bool) {
	s = strings.ToUpper(strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(s), "-", " "), "_", " "))
	switch s {
	case "READ UNCOMMITTED":
		return isoReadUncommitted, true
	case "READ COMMITTED":
		return isoReadCommitted, true
	case "REPEATABLE READ":
		return isoRepeatableRead, true
	case "SERIALIZABLE":
		return isoSerializable, true
	}
	return 0, false
}

// parseEnd reads the rest of COMMIT, END, ROLLBACK and ABORT; ROLLBACK TO
// a savepoint keeps the transaction (and the capture keeps its locks).
func (p *parser) parseEnd(kind stmtKind) *statement {
	p.accept("WORK")
	p.accept("TRANSACTION")
	if kind == kindRollback && p.accept("TO") {
		p.accept("SAVEPOINT")
		p.next()
		return &statement{kind: kindNone}
	}
	st := &statement{kind: kind}
	switch {
	case p.acceptSeq("AND", "NO", "CHAIN"):
	case p.acceptSeq("AND", "CHAIN"):
		st.chain = true
	}
	p.accept("PREPARED") // COMMIT PREPARED 'id' is two-phase commit: not modelled
	if p.d == dialectMySQL {
		p.acceptSeq("NO", "RELEASE")
		p.accept("RELEASE")
	}
	return st
}

// parseSet reads the SET statements that matter: isolation levels and
// MySQL's autocommit. Any other SET is none.
func (p *parser) parseSet() *statement {
	scope := isoThisTx
	if p.d == dialectMySQL {
		scope = isoNextTx
	}
	switch {
	case p.accept("SESSION"), p.accept("LOCAL"):
		if p.peek().is("TRANSACTION") || p.peek().is("CHARACTERISTICS") {
			scope = isoSession
		}
	case p.accept("GLOBAL"):
		p.pos = len(p.toks) // new sessions learn it when they connect
		return &statement{kind: kindNone}
	}
	if p.acceptSeq("CHARACTERISTICS", "AS") {
		scope = isoSession
	}
	if p.accept("TRANSACTION") {
		st := &statement{kind: kindIsolation, isoScope: scope}
		if !p.parseTxModes(st) {
			return skip(reasonSyntax)
		}
		if st.iso == isoDefault {
			return &statement{kind: kindNone}
		}
		return st
	}
	// SET name = value | SET name TO value; MySQL: SET @@session.name = …
	t := p.next()
	if t.kind != tokIdent {
		return skip(reasonSyntax)
	}
	setting := strings.ToLower(t.text)
	if !p.acceptPunct("=") && !p.accept("TO") {
		p.pos = len(p.toks)
		return &statement{kind: kindNone}
	}
	v := p.next()
	rest := !p.eof()
	p.pos = len(p.toks)
	switch setting {
	case "autocommit":
		if rest || p.d != dialectMySQL {
			return &statement{kind: kindNone}
		}
		switch {
		case v.kind == tokNumber && v.text == "0", v.is("OFF"), v.is("FALSE"):
			return &statement{kind: kindAutocommit, on: false}
		case v.kind == tokNumber && v.text == "1", v.is("ON"), v.is("TRUE"):
			return &statement{kind: kindAutocommit, on: true}
		}
		return skip(reasonSyntax)
	case "default_transaction_isolation", "transaction_isolation", "tx_isolation":
		iso, ok := levelText(v.text)
		if !ok || rest {
			return skip(reasonSyntax)
		}
		sc := isoSession
		if setting != "default_transaction_isolation" && p.d == dialectPostgres {
			sc = isoThisTx // PostgreSQL: transaction_isolation is the current transaction's
		}
		return &statement{kind: kindIsolation, iso: iso, isoScope: sc}
	}
	return &statement{kind: kindNone}
}

// parseName reads an identifier.
func (p *parser) parseName() (name, bool) {
	t := p.peek()
	if t.kind != tokIdent {
		return name{}, false
	}
	p.pos++
	return name{text: t.text, quoted: t.quoted}, true
}

// parseTable reads [schema.]table.
func (p *parser) parseTable() (tableRef, bool) {
	n, ok := p.parseName()
	if !ok || (!n.quoted && isReserved(n.text)) {
		return tableRef{}, false
	}
	if p.acceptPunct(".") {
		t, ok := p.parseName()
		if !ok {
			return tableRef{}, false
		}
		if p.peek().punct(".") { // catalog.schema.table
			return tableRef{}, false
		}
		return tableRef{schema: n, table: t}, true
	}
	return tableRef{table: n}, true
}

// parseAlias reads [AS] alias, when an alias follows.
func (p *parser) parseAlias() name {
	if p.accept("AS") {
		n, _ := p.parseName()
		return n
	}
	t := p.peek()
	if t.kind == tokIdent && (t.quoted || !isReserved(t.text)) {
		p.pos++
		return name{text: t.text, quoted: t.quoted}
	}
	return name{}
}

// isReserved reports whether an unquoted word is one of the keywords that
// may follow a table or end an expression, so that it is never taken for an
// alias or a column.
func isReserved(w string) bool {
	_, ok := reserved[strings.ToUpper(w)]
	return ok
}

var reserved = func() map[string]struct{} {
	m := map[string]struct{}{}
	// Clause keywords (never an alias) and expression keywords (never a
	// column); words that are common column names (key, value, first) are
	// left out, so that unquoted they still read as columns.
	for _, w := range strings.Fields(`SELECT FROM WHERE AND OR NOT NULL TRUE FALSE IS IN LIKE ILIKE BETWEEN
		CASE WHEN THEN ELSE END CAST AS INTERVAL COLLATE ESCAPE DISTINCT ALL ANY SOME EXISTS UNKNOWN
		ORDER GROUP BY HAVING LIMIT OFFSET FETCH FOR LOCK WINDOW UNION INTERSECT EXCEPT JOIN INNER LEFT RIGHT
		FULL OUTER CROSS NATURAL ON USING SET VALUES RETURNING INTO DEFAULT
		CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP LOCALTIME LOCALTIMESTAMP CURRENT_USER SESSION_USER
		SIMILAR TO GLOB REGEXP RLIKE DIV MOD XOR NULLS ASC DESC STRAIGHT_JOIN`) {
		m[w] = struct{}{}
	}
	return m
}()

// parseSelect reads the single-table SELECT the capture understands:
//
//	SELECT [ALL | DISTINCT] items FROM table [[AS] alias] [WHERE cond]
//	  [ORDER BY …] [LIMIT …] [OFFSET …] [FETCH …]
//	  [FOR UPDATE | FOR NO KEY UPDATE | FOR SHARE | FOR KEY SHARE [OF …] [NOWAIT | SKIP LOCKED | WAIT n]
//	   | LOCK IN SHARE MODE]
//
// A SELECT without FROM reads no row.
func (p *parser) parseSelect() *statement {
	st := &statement{kind: kindSelect}
	p.accept("ALL")
	if p.accept("DISTINCT") && p.peek().is("ON") {
		return skip(reasonExpression)
	}
	p.accept("SQL_NO_CACHE")
	start := p.pos
	items, reason := p.parseItems("FROM")
	if reason != "" {
		if reason == reasonNoFrom {
			for _, t := range p.toks[start:] {
				if _, ok := advisoryFuncs[strings.ToLower(t.text)]; ok && t.kind == tokIdent {
					return skip(reasonArgument) // a lock taken in a way the capture does not read
				}
			}
			return &statement{kind: kindNone}
		}
		return skip(reason)
	}
	st.items = items
	if !p.accept("FROM") {
		return skip(reasonSyntax)
	}
	if p.peek().punct("(") {
		return skip(reasonSubquery)
	}
	var ok bool
	if st.table, ok = p.parseTable(); !ok {
		return skip(reasonSyntax)
	}
	st.alias = p.parseAlias()
	if t := p.peek(); t.punct(",") || t.is("JOIN") || t.is("INNER") || t.is("LEFT") || t.is("RIGHT") ||
		t.is("FULL") || t.is("CROSS") || t.is("NATURAL") || t.is("STRAIGHT_JOIN") {
		return skip(reasonJoin)
	}
	if p.accept("WHERE") {
		if r := p.parseWhere(st); r != "" {
			return skip(r)
		}
	}
	for !p.eof() {
		switch {
		case p.peek().is("GROUP") || p.peek().is("HAVING") || p.peek().is("WINDOW"):
			return skip(reasonExpression)
		case p.peek().is("UNION") || p.peek().is("INTERSECT") || p.peek().is("EXCEPT"):
			return skip(reasonStatement)
		case p.acceptSeq("ORDER", "BY"), p.accept("LIMIT"), p.accept("OFFSET"), p.accept("FETCH"):
			if r := p.skipExpr(clauseEnd); r != "" {
				return skip(r)
			}
		case p.accept("FOR"):
			switch {
			case p.accept("UPDATE"), p.acceptSeq("NO", "KEY", "UPDATE"):
				st.lock = lockExclusive
			case p.accept("SHARE"):
				st.lock = max(st.lock, lockShared)
			case p.acceptSeq("KEY", "SHARE"):
				// Conflicts only with changes of the key, which plain
				// UPDATEs of other columns do not make: no lock modelled.
			default:
				return skip(reasonSyntax)
			}
			if p.accept("OF") {
				for {
					if _, ok := p.parseTable(); !ok {
						return skip(reasonSyntax)
					}
					if !p.acceptPunct(",") {
						break
					}
				}
			}
			switch {
			case p.accept("NOWAIT"), p.acceptSeq("SKIP", "LOCKED"):
			case p.accept("WAIT"):
				p.next()
			}
		case p.acceptSeq("LOCK", "IN", "SHARE", "MODE"):
			st.lock = max(st.lock, lockShared)
		default:
			return skip(reasonSyntax)
		}
	}
	return st
}

// reasonNoFrom marks a SELECT list that ended without FROM (SELECT 1,
// SELECT now()): a statement that reads no row.
const reasonNoFrom = "no from"

// parseItems reads a SELECT or RETURNING list up to the keyword end (or
// the end of the statement). In a SELECT, an expression of the table's
// columns (price * 2, lower(name)) reads rows the capture names, but its
// value is no column's: such a SELECT is skipped.
func (p *parser) parseItems(end string) ([]item, string) {
	var items []item
	expr := false
	for {
		it, isExpr, reason := p.parseItem(end)
		if reason != "" {
			return nil, reason
		}
		expr = expr || isExpr
		items = append(items, it)
		if !p.acceptPunct(",") {
			break
		}
	}
	switch {
	case p.eof() && end == "FROM":
		return nil, reasonNoFrom
	case !p.eof() && !p.peek().is(end):
		if end == "FROM" && p.peek().is("INTO") {
			return nil, reasonStatement // SELECT … INTO
		}
		return nil, reasonSyntax
	case expr && end == "FROM":
		return nil, reasonExpression
	}
	return items, ""
}

// parseItem reads one output column: *, t.*, a column [[AS] alias], or a
// constant or another expression [[AS] alias], reporting whether it is an
// expression that is not a constant.
func (p *parser) parseItem(end string) (it item, expr bool, reason string) {
	if p.acceptPunct("*") {
		return item{star: true}, false, ""
	}
	start := p.pos
	if c, ok := p.parseColRef(); ok {
		if p.peek().punct(".") && p.peekAt(1).punct("*") && c.qual.text == "" {
			p.pos += 2
			return item{star: true, col: colRef{qual: c.col}}, false, ""
		}
		p.parseAlias()
		if p.itemEnds(end) {
			return item{col: c}, false, ""
		}
	}
	if p.pos = start; p.peek().punct(".") {
		return item{}, false, reasonSyntax
	}
	// A constant or an expression: it records nothing, but a subquery or
	// an aggregate reads rows the capture cannot name.
	constant := true
	depth := 0
	for !p.eof() {
		t := p.peek()
		if depth == 0 && (t.punct(",") || t.is(end)) {
			break
		}
		switch {
		case t.punct("("):
			depth++
		case t.punct(")"):
			depth--
			if depth < 0 {
				return item{}, false, reasonSyntax
			}
		case t.is("SELECT"):
			return item{}, false, reasonSubquery
		case t.kind == tokIdent && depth == 0 && p.peekAt(1).punct("(") && isAggregate(t.text):
			return item{}, false, reasonExpression
		case t.kind == tokIdent && !t.is("AS") && !t.is("NULL") && !t.is("TRUE") && !t.is("FALSE"):
			constant = false
		}
		p.pos++
	}
	return item{other: true}, !constant, ""
}

// itemEnds reports whether the parser is at the end of an item.
func (p *parser) itemEnds(end string) bool {
	return p.eof() || p.peek().punct(",") || p.peek().is(end)
}

// isAggregate reports whether a function aggregates rows.
func isAggregate(fn string) bool {
	switch strings.ToUpper(fn) {
	case "COUNT", "SUM", "AVG", "MIN", "MAX", "ARRAY_AGG", "STRING_AGG", "GROUP_CONCAT", "JSON_AGG",
		"JSONB_AGG", "BOOL_AND", "BOOL_OR", "EVERY", "BIT_AND", "BIT_OR", "JSON_ARRAYAGG", "JSON_OBJECTAGG", "TOTAL":
		return true
	}
	return false
}

// parseColRef reads [qualifier.]column (and skips a leading schema:
// schema.table.column).
func (p *parser) parseColRef() (colRef, bool) {
	t := p.peek()
	if t.kind != tokIdent || (!t.quoted && isReserved(t.text)) || p.peekAt(1).punct("(") {
		return colRef{}, false
	}
	p.pos++
	first := name{text: t.text, quoted: t.quoted}
	if !p.peek().punct(".") || p.peekAt(1).kind != tokIdent {
		return colRef{col: first}, true
	}
	p.pos++
	second, _ := p.parseName()
	if p.peek().punct(".") && p.peekAt(1).kind == tokIdent {
		p.pos++
		third, _ := p.parseName()
		return colRef{qual: second, col: third}, true
	}
	return colRef{qual: first, col: second}, true
}

// clauseEnd are the keywords that end a WHERE, ORDER BY or LIMIT clause
// (skipExpr also stops at punctuation listed in its ends).
var clauseEnd = []string{"ORDER", "LIMIT", "OFFSET", "FETCH", "FOR", "LOCK", "GROUP", "HAVING", "WINDOW",
	"UNION", "INTERSECT", "EXCEPT", "RETURNING"}

// atEnd reports whether the next token ends a clause (at depth 0).
func (p *parser) atEnd(ends []string) bool {
	if p.eof() {
		return true
	}
	t := p.peek()
	for _, e := range ends {
		if t.is(e) || t.punct(e) {
			return true
		}
	}
	return false
}

// skipExpr moves past tokens up to one of ends, or an unmatched ")", at
// depth 0, failing on a subquery.
func (p *parser) skipExpr(ends []string) string {
	depth := 0
	for !p.eof() {
		if depth == 0 && (p.atEnd(ends) || p.peek().punct(")")) {
			break
		}
		t := p.next()
		switch {
		case t.punct("("):
			depth++
		case t.punct(")"):
			depth--
		case t.is("SELECT"):
			return reasonSubquery
		}
	}
	if depth != 0 {
		return reasonSyntax
	}
	return ""
}

// parseWhere reads a WHERE condition into st.keys and st.whereCols.
func (p *parser) parseWhere(st *statement) string {
	st.hasWhere = true
	start := p.pos
	if r := p.skipExpr(clauseEnd); r != "" {
		return r
	}
	return p.readCond(st, p.toks[start:p.pos])
}

// readCond splits cond into top-level conjuncts. A conjunct that pins a
// column (col = v, col IN (…), col = ANY(v)) becomes a keyCond; the others
// only read their columns. A condition with a top-level OR pins nothing.
func (p *parser) readCond(st *statement, cond []token) string {
	cond = stripParens(cond)
	if len(cond) == 0 {
		return reasonSyntax
	}
	var conjuncts [][]token
	depth, from, between := 0, 0, false
	or := false
	for k, t := range cond {
		switch {
		case t.punct("("):
			depth++
		case t.punct(")"):
			depth--
		case depth > 0:
		case t.is("BETWEEN"):
			between = true
		case t.is("OR"):
			or = true
		case t.is("AND"):
			if between {
				between = false
				continue
			}
			conjuncts = append(conjuncts, cond[from:k])
			from = k + 1
		}
	}
	conjuncts = append(conjuncts, cond[from:])
	if or {
		return p.readCols(&st.whereCols, cond)
	}
	for _, c := range conjuncts {
		if len(c) == 0 {
			return reasonSyntax
		}
		if inner := stripParens(c); len(inner) != len(c) {
			if r := p.readCond(st, inner); r != "" {
				return r
			}
			continue
		}
		if k, ok := p.keyCond(c); ok {
			st.keys = append(st.keys, k)
			continue
		}
		if r := p.readCols(&st.whereCols, c); r != "" {
			return r
		}
	}
	return ""
}

// stripParens removes parentheses around the whole of toks.
func stripParens(toks []token) []token {
	for len(toks) >= 2 && toks[0].punct("(") && toks[len(toks)-1].punct(")") {
		depth := 0
		whole := true
		for k, t := range toks {
			if t.punct("(") {
				depth++
			} else if t.punct(")") {
				depth--
				if depth == 0 && k != len(toks)-1 {
					whole = false
					break
				}
			}
		}
		if !whole {
			break
		}
		toks = toks[1 : len(toks)-1]
	}
	return toks
}

// keyCond reads col = v, v = col, col IN (v, …) and col = ANY(v).
func (p *parser) keyCond(c []token) (keyCond, bool) {
	sub := &parser{toks: c, d: p.d}
	if col, ok := sub.parseColRef(); ok {
		switch {
		case sub.acceptPunct("="):
			if sub.accept("ANY") {
				if !sub.acceptPunct("(") {
					return keyCond{}, false
				}
				v, ok := sub.parseValue()
				if !ok || v.kind != valParam || !sub.acceptPunct(")") || !sub.eof() {
					return keyCond{}, false
				}
				return keyCond{col: col, vals: []value{v}, any: true}, true
			}
			v, ok := sub.parseValue()
			if ok && sub.eof() && v.kind != valExpr {
				return keyCond{col: col, vals: []value{v}}, true
			}
		case sub.accept("IN"):
			if !sub.acceptPunct("(") {
				return keyCond{}, false
			}
			var vals []value
			for {
				v, ok := sub.parseValue()
				if !ok || v.kind == valExpr {
					return keyCond{}, false
				}
				vals = append(vals, v)
				if !sub.acceptPunct(",") {
					break
				}
			}
			if sub.acceptPunct(")") && sub.eof() {
				return keyCond{col: col, vals: vals}, true
			}
		}
		return keyCond{}, false
	}
	sub.pos = 0
	v, ok := sub.parseValue()
	if !ok || v.kind == valExpr || !sub.acceptPunct("=") {
		return keyCond{}, false
	}
	col, ok := sub.parseColRef()
	if !ok || !sub.eof() {
		return keyCond{}, false
	}
	return keyCond{col: col, vals: []value{v}}, true
}

// parseValue reads a parameter, a literal (a signed number, a string),
// NULL or DEFAULT, each perhaps cast (v::type, CAST(v AS type)), or else
// reports an expression by stopping there.
func (p *parser) parseValue() (value, bool) {
	if p.accept("CAST") {
		if !p.acceptPunct("(") {
			return value{}, false
		}
		v, ok := p.parseValue()
		if !ok || !p.accept("AS") || !p.skipType() || !p.acceptPunct(")") {
			return value{}, false
		}
		return v, true
	}
	t := p.peek()
	var v value
	switch {
	case t.kind == tokParam:
		v = value{kind: valParam, ordinal: t.ordinal, name: t.name}
	case t.kind == tokString:
		v = value{kind: valLiteral, text: t.text}
	case t.kind == tokNumber:
		v = value{kind: valLiteral, text: t.text}
	case t.punct("-") && p.peekAt(1).kind == tokNumber:
		p.pos++
		v = value{kind: valLiteral, text: "-" + p.peek().text}
	case t.is("NULL"):
		v = value{kind: valNull}
	case t.is("DEFAULT"):
		v = value{kind: valDefault}
	case t.is("TRUE"), t.is("FALSE"):
		v = value{kind: valLiteral, text: strings.ToLower(t.text)}
	default:
		return value{kind: valExpr}, true
	}
	p.pos++
	for p.acceptPunct("::") {
		if !p.skipType() {
			return value{}, false
		}
	}
	return v, true
}

// skipType moves past a type name: words, (n[, m]) and [] suffixes.
func (p *parser) skipType() bool {
	if p.peek().kind != tokIdent {
		return false
	}
	for p.peek().kind == tokIdent && !p.peek().is("AS") {
		p.pos++
		if p.acceptPunct(".") {
			continue
		}
	}
	if p.acceptPunct("(") {
		for !p.eof() && !p.peek().punct(")") {
			p.pos++
		}
		if !p.acceptPunct(")") {
			return false
		}
	}
	for p.peek().punct("[") && p.peekAt(1).punct("]") {
		p.pos += 2
	}
	return true
}

// readCols appends the column references of an expression to cols. A
// function's name, a type after :: or AS, and keywords are not columns;
// anything that does not resolve to a column of the table makes the
// statement skipped later (see plan), so a keyword missing from the
// reserved list costs a skip, never a wrong identity.
func (p *parser) readCols(cols *[]colRef, expr []token) string {
	sub := &parser{toks: expr, d: p.d}
	for !sub.eof() {
		t := sub.peek()
		switch {
		case t.is("SELECT"):
			return reasonSubquery
		case t.punct("::"):
			sub.pos++
			if !sub.skipType() {
				return reasonSyntax
			}
		case t.is("CAST"):
			// CAST(expr AS type): the expression's columns count, the type not.
			sub.pos++
		case t.is("AS") || t.is("INTERVAL"):
			sub.pos++
			sub.skipType()
		case t.is("VALUES") && sub.peekAt(1).punct("("):
			// MySQL's VALUES(col) in ON DUPLICATE KEY UPDATE: the value
			// proposed for col, not a read of the row.
			sub.pos += 2
			if r := sub.skipExpr(nil); r != "" || !sub.acceptPunct(")") {
				return reasonSyntax
			}
		case t.kind == tokIdent && sub.peekAt(1).punct("("):
			sub.pos++ // a function
		case t.kind == tokIdent && !t.quoted && isReserved(t.text):
			sub.pos++
		case t.kind == tokIdent:
			c, _ := sub.parseColRef()
			*cols = append(*cols, c)
		default:
			sub.pos++
		}
	}
	return ""
}

// parseUpdate reads
//
//	UPDATE [ONLY | LOW_PRIORITY | IGNORE | OR …] table [[AS] alias] SET col = expr, …
//	  [WHERE cond] [RETURNING items] [ORDER BY …] [LIMIT n]
func (p *parser) parseUpdate() *statement {
	st := &statement{kind: kindUpdate}
	p.accept("ONLY")
	p.accept("LOW_PRIORITY")
	p.accept("IGNORE")
	if p.accept("OR") {
		p.next()
	}
	var ok bool
	if st.table, ok = p.parseTable(); !ok {
		return skip(reasonSyntax)
	}
	st.alias = p.parseAlias()
	if p.peek().punct(",") || p.peek().is("JOIN") || p.peek().is("INNER") || p.peek().is("LEFT") {
		return skip(reasonJoin)
	}
	if !p.accept("SET") {
		return skip(reasonSyntax)
	}
	sets, r := p.parseAssignments([]string{"WHERE", "RETURNING", "FROM", "ORDER", "LIMIT"})
	if r != "" {
		return skip(r)
	}
	st.sets = sets
	if p.peek().is("FROM") {
		return skip(reasonJoin)
	}
	if p.accept("WHERE") {
		if r := p.parseWhere(st); r != "" {
			return skip(r)
		}
	}
	return p.parseTail(st)
}

// parseTail reads RETURNING, ORDER BY and LIMIT at the end of UPDATE and
// DELETE.
func (p *parser) parseTail(st *statement) *statement {
	for !p.eof() {
		switch {
		case p.accept("RETURNING"):
			items, r := p.parseItems("")
			if r != "" {
				return skip(r)
			}
			st.returning = items
		case p.acceptSeq("ORDER", "BY"), p.accept("LIMIT"):
			if r := p.skipExpr(clauseEnd); r != "" {
				return skip(r)
			}
		default:
			return skip(reasonSyntax)
		}
	}
	return st
}

// parseAssignments reads col = expr, … up to one of ends at depth 0.
func (p *parser) parseAssignments(ends []string) ([]assignment, string) {
	var sets []assignment
	for {
		col, ok := p.parseColRef()
		if !ok || !p.acceptPunct("=") {
			return nil, reasonSyntax
		}
		start := p.pos
		depth := 0
		for !p.eof() {
			t := p.peek()
			if depth == 0 && (t.punct(",") || p.atEnd(ends)) {
				break
			}
			if t.punct("(") {
				depth++
			} else if t.punct(")") {
				depth--
			}
			p.pos++
		}
		expr := p.toks[start:p.pos]
		a := assignment{col: col}
		sub := &parser{toks: expr, d: p.d}
		if v, ok := sub.parseValue(); ok && v.kind != valExpr && sub.eof() {
			a.val = v
		} else {
			a.val = value{kind: valExpr}
			if r := p.readCols(&a.reads, expr); r != "" {
				return nil, r
			}
		}
		sets = append(sets, a)
		if !p.acceptPunct(",") {
			return sets, ""
		}
	}
}

// parseDelete reads
//
//	DELETE [LOW_PRIORITY] [QUICK] [IGNORE] FROM [ONLY] table [[AS] alias]
//	  [WHERE cond] [RETURNING items] [ORDER BY …] [LIMIT n]
func (p *parser) parseDelete() *statement {
	st := &statement{kind: kindDelete}
	p.accept("LOW_PRIORITY")
	p.accept("QUICK")
	p.accept("IGNORE")
	if !p.accept("FROM") {
		return skip(reasonJoin) // MySQL's DELETE t1, t2 FROM …
	}
	p.accept("ONLY")
	var ok bool
	if st.table, ok = p.parseTable(); !ok {
		return skip(reasonSyntax)
	}
	st.alias = p.parseAlias()
	if p.peek().punct(",") || p.peek().is("USING") || p.peek().is("JOIN") {
		return skip(reasonJoin)
	}
	if p.accept("WHERE") {
		if r := p.parseWhere(st); r != "" {
			return skip(r)
		}
	}
	return p.parseTail(st)
}

// parseInsert reads
//
//	INSERT [IGNORE | OR REPLACE | OR IGNORE …] INTO table [[AS] alias] [(cols)]
//	  VALUES (v, …), … | DEFAULT VALUES
//	  [ON CONFLICT [target] DO NOTHING | DO UPDATE SET … [WHERE …]]
//	  [ON DUPLICATE KEY UPDATE col = expr, …] [RETURNING items]
//
// and REPLACE INTO …, an upsert.
func (p *parser) parseInsert(replace bool) *statement {
	st := &statement{kind: kindInsert, upsert: replace}
	p.accept("LOW_PRIORITY")
	p.accept("DELAYED")
	p.accept("HIGH_PRIORITY")
	if p.accept("IGNORE") {
		st.ignore = true
	}
	if p.accept("OR") {
		switch {
		case p.accept("REPLACE"):
			st.upsert = true
		case p.accept("IGNORE"):
			st.ignore = true
		case p.accept("ABORT"), p.accept("FAIL"), p.accept("ROLLBACK"):
		default:
			return skip(reasonSyntax)
		}
	}
	if !p.accept("INTO") && !replace && p.d != dialectMySQL {
		return skip(reasonSyntax)
	}
	var ok bool
	if st.table, ok = p.parseTable(); !ok {
		return skip(reasonSyntax)
	}
	if p.peek().is("AS") {
		st.alias = p.parseAlias()
	}
	if p.acceptPunct("(") {
		for {
			c, ok := p.parseColRef()
			if !ok {
				if p.peek().is("SELECT") {
					return skip(reasonStatement)
				}
				return skip(reasonSyntax)
			}
			st.insertCols = append(st.insertCols, c)
			if !p.acceptPunct(",") {
				break
			}
		}
		if !p.acceptPunct(")") {
			return skip(reasonSyntax)
		}
		if len(st.insertCols) == 0 {
			return skip(reasonSyntax)
		}
	}
	switch {
	case p.acceptSeq("DEFAULT", "VALUES"):
		st.insertCols = []colRef{}
		st.rows = [][]value{{}}
	case p.accept("VALUES"), p.accept("VALUE"):
		for {
			if !p.acceptPunct("(") {
				return skip(reasonSyntax)
			}
			var row []value
			for {
				start := p.pos
				v, ok := p.parseValue()
				if !ok {
					return skip(reasonSyntax)
				}
				if v.kind == valExpr || !(p.peek().punct(",") || p.peek().punct(")")) {
					p.pos = start
					if r := p.skipExpr([]string{","}); r != "" {
						return skip(r)
					}
					v = value{kind: valExpr}
				}
				row = append(row, v)
				if !p.acceptPunct(",") {
					break
				}
			}
			if !p.acceptPunct(")") {
				return skip(reasonSyntax)
			}
			if st.insertCols != nil && len(row) != len(st.insertCols) {
				return skip(reasonSyntax)
			}
			st.rows = append(st.rows, row)
			if !p.acceptPunct(",") {
				break
			}
		}
	case p.peek().is("SELECT") || p.peek().is("WITH") || p.peek().is("TABLE"):
		return skip(reasonStatement)
	default:
		return skip(reasonSyntax)
	}
	if p.accept("AS") { // MySQL 8's VALUES (…) AS new
		p.parseName()
		if p.acceptPunct("(") {
			if r := p.skipExpr(nil); r != "" || !p.acceptPunct(")") {
				return skip(reasonSyntax)
			}
		}
	}
	for !p.eof() {
		switch {
		case p.acceptSeq("ON", "CONFLICT"):
			// The conflict target: (cols) [WHERE …] | ON CONSTRAINT name.
			if p.acceptPunct("(") {
				if r := p.skipExpr(nil); r != "" || !p.acceptPunct(")") {
					return skip(reasonSyntax)
				}
				if p.accept("WHERE") {
					if r := p.skipExpr([]string{"DO"}); r != "" {
						return skip(r)
					}
				}
			} else if p.acceptSeq("ON", "CONSTRAINT") {
				p.next()
			}
			switch {
			case p.acceptSeq("DO", "NOTHING"):
				st.ignore = true
			case p.acceptSeq("DO", "UPDATE", "SET"):
				sets, r := p.parseAssignments([]string{"WHERE", "RETURNING"})
				if r != "" {
					return skip(r)
				}
				st.sets, st.upsert = sets, true
				if p.accept("WHERE") {
					if r := p.skipExpr([]string{"RETURNING"}); r != "" {
						return skip(r)
					}
				}
			default:
				return skip(reasonSyntax)
			}
		case p.acceptSeq("ON", "DUPLICATE", "KEY", "UPDATE"):
			sets, r := p.parseAssignments([]string{"RETURNING"})
			if r != "" {
				return skip(r)
			}
			st.sets, st.upsert = sets, true
		case p.accept("RETURNING"):
			items, r := p.parseItems("")
			if r != "" {
				return skip(r)
			}
			st.returning = items
		default:
			return skip(reasonSyntax)
		}
	}
	return st
}
