package racewaysql

import (
	"strings"
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
