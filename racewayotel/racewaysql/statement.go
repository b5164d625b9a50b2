package racewaysql

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
