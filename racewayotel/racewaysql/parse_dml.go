package racewaysql

import (
	"strings"
)

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
