package racewaysql

import (
	"database/sql"
	"database/sql/driver"
)

// txState is an open transaction as the capture follows it: its isolation
// level and the row locks it holds until it ends.
type txState struct {
	iso   isolation
	locks map[string]lockMode
	// opaque is set when the capture no longer knows which rows the
	// transaction locked (LOCK TABLE, a locking statement it could not
	// read): its later statements are skipped rather than recorded as less
	// protected than they are.
	opaque bool
}

// maxTxLocks bounds the row locks followed per transaction; a transaction
// that takes more becomes opaque.
const maxTxLocks = 4096

// session is one connection's state: what the capture learnt when it
// opened, and the transaction it is in.
type session struct {
	system   string
	d        dialect
	database string
	// err is why the session could not be learnt: every statement is then
	// skipped.
	err error

	iso        isolation // the default isolation level of new transactions
	nextIso    isolation // MySQL's SET TRANSACTION: the next transaction's
	autocommit bool      // MySQL's autocommit (always true elsewhere)
	tx         *txState
}

// begin starts a transaction at level iso (isoDefault: the session's).
func (s *session) begin(iso isolation) {
	if iso == isoDefault {
		iso = s.nextIso
	}
	if iso == isoDefault {
		iso = s.iso
	}
	s.nextIso = isoDefault
	s.tx = &txState{iso: iso}
}

// end ends the transaction (COMMIT or ROLLBACK): its locks are released.
// With chain, a new one begins at the same level.
func (s *session) end(chain bool) {
	if chain && s.tx != nil {
		s.tx = &txState{iso: s.tx.iso}
		return
	}
	s.tx = nil
}

// inTx returns the transaction a data statement runs in, starting MySQL's
// implicit one when autocommit is off.
func (s *session) inTx() *txState {
	if s.tx == nil && !s.autocommit {
		s.begin(isoDefault)
	}
	return s.tx
}

// control applies a statement's effect on the session once it succeeded.
func (s *session) control(st *statement) {
	switch st.kind {
	case kindBegin:
		s.begin(st.iso) // MySQL commits an open transaction first; PostgreSQL warns and keeps it
	case kindCommit, kindRollback:
		s.end(st.chain)
	case kindIsolation:
		switch st.isoScope {
		case isoThisTx:
			if s.tx != nil {
				s.tx.iso = st.iso
			}
		case isoNextTx:
			if s.tx == nil {
				s.nextIso = st.iso
			}
		case isoSession:
			s.iso = st.iso
		}
	case kindAutocommit:
		if st.on && s.tx != nil {
			s.tx = nil // MySQL commits the open transaction
		}
		s.autocommit = st.on
	case kindUse:
		s.database = st.database
	case kindTableLock:
		if tx := s.inTx(); tx != nil {
			tx.opaque = true
		}
	case kindSkip:
		if st.reason == reasonDDL && s.system == SystemMySQL {
			s.tx = nil // MySQL commits before and after DDL
		}
	}
}

// strict reports whether the transaction's accesses are serialised on
// every row they touch: PostgreSQL's REPEATABLE READ and SERIALIZABLE
// abort a transaction that would overwrite a row another one changed
// since its snapshot, so two such transactions never lose an update.
func (s *session) strict(tx *txState) bool {
	return tx != nil && s.system == SystemPostgres && tx.iso >= isoRepeatableRead
}

// lockName is the shared lock that guards a row: the row itself, except in
// SQLite, where the whole database is locked by a writer.
func (s *session) lockName(row string) string {
	if s.system == SystemSQLite {
		return SystemSQLite + "/" + s.database
	}
	return row
}

// locksFor returns the shared locks held, exclusively and in read mode, by
// an access to row that holds own itself: the statement's own lock, the
// transaction's lock on the row, and what the isolation level implies.
func (s *session) locksFor(row string, own lockMode) (x, r []string) {
	mode := own
	if tx := s.tx; tx != nil {
		mode = max(mode, tx.locks[s.lockName(row)])
		if s.strict(tx) || s.system == SystemSQLite {
			// PostgreSQL's strict levels (see strict); SQLite's
			// transactions are serializable, writers one at a time.
			mode = lockExclusive
		}
	}
	switch mode {
	case lockExclusive:
		return []string{s.lockName(row)}, nil
	case lockShared:
		return nil, []string{s.lockName(row)}
	}
	return nil, nil
}

// upgrade returns the lock a blind write of row holds: exclusive when its
// transaction held the row already, in either mode (the write upgrades a
// read-mode lock, waiting for every other holder to release it, so that
// nothing came between the transaction's lock and its write), else none.
func (s *session) upgrade(row string) lockMode {
	if tx := s.tx; tx != nil && tx.locks[s.lockName(row)] != lockNone {
		return lockExclusive
	}
	return lockNone
}

// acquire records that the transaction, if any, now holds row in mode.
func (s *session) acquire(row string, mode lockMode) {
	tx := s.tx
	if tx == nil || mode == lockNone {
		return
	}
	n := s.lockName(row)
	if tx.locks == nil {
		tx.locks = map[string]lockMode{}
	}
	if _, ok := tx.locks[n]; !ok && len(tx.locks) >= maxTxLocks {
		tx.opaque = true
		return
	}
	tx.locks[n] = max(tx.locks[n], mode)
}

// skipMayLock reports whether a statement the capture could not read may
// have taken row locks in the current transaction: anything but a SELECT
// without FOR/LOCK (and, in MySQL's SERIALIZABLE, where plain SELECTs lock
// rows, even that).
func (s *session) skipMayLock(query string) bool {
	tx := s.tx
	if tx == nil {
		return false
	}
	if s.system == SystemSQLite || s.strict(tx) {
		return false // the model locks each access's own row (or database) only
	}
	if s.system == SystemMySQL && tx.iso == isoSerializable {
		return true
	}
	toks, err := lex(query, s.d)
	if err != nil || len(toks) == 0 || !toks[0].is("SELECT") {
		return true
	}
	for _, t := range toks {
		if t.is("FOR") || t.is("LOCK") || t.is("INTO") {
			return true
		}
	}
	return false
}

// txOptions starts the transaction of driver.TxOptions.
func (s *session) txOptions(opts driver.TxOptions) {
	s.begin(isolationOf(opts.Isolation))
}

// isolationOf maps database/sql's isolation levels (sql.IsolationLevel
// values) to the capture's. Levels the capture does not distinguish
// (snapshot, linearizable) count as the strongest they imply.
func isolationOf(l driver.IsolationLevel) isolation {
	switch sql.IsolationLevel(l) {
	case sql.LevelReadUncommitted:
		return isoReadUncommitted
	case sql.LevelReadCommitted, sql.LevelWriteCommitted:
		return isoReadCommitted
	case sql.LevelRepeatableRead, sql.LevelSnapshot:
		return isoRepeatableRead
	case sql.LevelSerializable, sql.LevelLinearizable:
		return isoSerializable
	}
	return isoDefault
}
