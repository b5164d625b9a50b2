package racewaysql

import (
	"strings"
)

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
