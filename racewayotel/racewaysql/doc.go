// Package racewaysql captures the shared state an application reads and
// writes through database/sql, with no tracking call in the application: it
// wraps any driver (a driver.Driver or driver.Connector, composable with
// otelsql-style tracing) so that every statement records, through a
// racewayotel Tracker, shared reads and writes of the rows it touches, with
// the values it read and wrote, and the row locks the database holds.
//
//	db, err := racewaysql.Open(rw, "pgx", dsn) // instead of sql.Open("pgx", dsn)
//
// # Names
//
// A row's column is the shared variable
// <system>/<database>/<table>/<key>.<column>, for example
// postgres/shop/products/42.stock, as docs/semconv.md recommends:
//
//   - system is postgres, mysql (MySQL and MariaDB) or sqlite, known from the
//     driver or else asked once of the server (see [WithSystem]);
//   - database is asked of each new connection (current_database(),
//     DATABASE(); SQLite's main file path) unless declared with
//     [WithDatabase];
//   - table is the catalog's spelling, qualified by its schema in
//     PostgreSQL when that is not public;
//   - key is the row's primary key value (the columns' values joined by ","
//     for a composite key; "%", "/" and "," percent-encoded), from the
//     statement's WHERE clause and arguments or from the rows it returns.
//     The key columns and the table's columns are asked once per table of
//     the catalog through the connection that first needs them (PostgreSQL's
//     pg_catalog, MySQL's information_schema, SQLite's pragma_table_info),
//     cached for up to 1,024 tables; [WithPrimaryKey] declares them instead.
//     A statement that names a column the cached table lacks (the table was
//     altered) makes the capture ask again, at most once per table every 5
//     seconds, and is captured if the column is there now.
//
// # What is recorded
//
// The capture reads the single-table statements that applications and ORMs
// run (pgx, sqlx, sqlc, GORM, ent and bun write them so), in PostgreSQL's,
// MySQL's and SQLite's spelling, parsed once per query text and cached:
//
//   - SELECT columns | * FROM table [WHERE …] [ORDER BY, LIMIT, OFFSET]
//     [FOR UPDATE | FOR NO KEY UPDATE | FOR SHARE | LOCK IN SHARE MODE]: a
//     read of each column returned, with its value, for every row returned,
//     and of the columns WHERE tests. A row is named by its key columns when
//     they are returned, or as the one row WHERE pins (key = v; key IN (…)
//     and = ANY($1) when every row pinned was returned).
//   - UPDATE table SET col = v, … WHERE …: a write of each column set, with
//     the value assigned when it is an argument or a literal, and a read of
//     each column the statement reads (SET stock = stock - 1, WHERE … AND
//     stock > 0), for each row WHERE pins, when the rows affected say all of
//     them changed. RETURNING's values win.
//   - INSERT INTO table [(cols)] VALUES …: a write of every column of each
//     new row, named by the key it is given, or by LastInsertId or
//     RETURNING; upserts (ON CONFLICT, ON DUPLICATE KEY UPDATE, REPLACE)
//     write with no values (whether they inserted or updated is unknown),
//     and read what their update part reads.
//   - DELETE FROM table WHERE …: a write of every column of each row.
//
// A write's old value is the one the same logical thread last read or wrote
// of that column (racewayotel.SharedAccess.OldSeen), so that two services
// that read 10 and both write back 9 are reported as a lost update.
//
// # Locks, transactions and isolation
//
// What the database serialises is not a race. Row locks are shared locks
// named after the row (postgres/shop/products/42), held by the accesses
// they protect:
//
//   - SELECT … FOR UPDATE (FOR NO KEY UPDATE) locks its rows exclusively,
//     FOR SHARE (LOCK IN SHARE MODE) in read mode; FOR KEY SHARE, which does
//     not block plain updates, locks nothing the capture models;
//   - UPDATE, DELETE and INSERT lock the rows they change exclusively;
//   - in a transaction (BeginTx, or BEGIN / START TRANSACTION and MySQL's
//     autocommit = 0), every lock is held until COMMIT or ROLLBACK; outside
//     one, until the statement ends.
//
// A statement's reads, and its writes of columns it also reads (SET stock =
// stock - 1), hold its own row lock: one atomic read-modify-write, never a
// race with another holder. A blind write (SET stock = $1, a value computed
// elsewhere) holds only the locks its transaction held before it (a
// read-mode one upgraded: the write waits for every other holder): the lock
// it takes as it writes orders nothing it depends on, so two services that
// read a row and write it back are reported (write/write, a lost update)
// even though the database ran the two UPDATEs one after the other.
//
// Advisory locks (PostgreSQL's pg_advisory_lock, pg_advisory_xact_lock,
// their _shared and pg_try_ forms and pg_advisory_unlock; MySQL's GET_LOCK
// and RELEASE_LOCK) serialise whatever the application does while holding
// them: they are the calling thread's shared locks
// (postgres/<database>/advisory/<key>, mysql/lock/<name>), held by every
// access it records, in the database or not, until the unlock, the end of
// the transaction (the xact forms) or the connection's close.
//
// Isolation levels: PostgreSQL's REPEATABLE READ and SERIALIZABLE abort a
// transaction that would overwrite a row changed since its snapshot, so
// every access of such a transaction holds its row's lock exclusively (this
// also hides write skew between REPEATABLE READ transactions). MySQL's
// (InnoDB's) REPEATABLE READ does not abort lost updates and is modelled as
// READ COMMITTED; its SERIALIZABLE reads plain SELECTs in transactions FOR
// SHARE. SQLite has no row locks and runs one writer at a time: every
// access inside an explicit transaction holds the database's lock
// (sqlite/<database>), and a statement's read-modify-write holds it too.
// The session's default level is asked when a connection opens, and SET
// TRANSACTION, BEGIN … ISOLATION LEVEL and sql.TxOptions are followed.
//
// # What is not recorded
//
// A statement the capture cannot read (joins, subqueries, CTEs, aggregates,
// DDL, several statements in one string, stored procedures) or whose rows
// it cannot name (no key in WHERE nor in the rows returned, an UPDATE that
// changed fewer rows than it named) is skipped, never guessed into a
// coarser name that could invent a race: it is counted in the Tracker's
// Stats.CaptureSkipped and the metric raceway.capture.skipped, by
// raceway.reason. Inside a transaction, a skipped statement that may have
// taken row locks (anything but a plain SELECT), and LOCK TABLE, make the
// capture skip the rest of the transaction: its later accesses would
// otherwise look less protected than they are. The approximations can
// hide races, never invent one, with two exceptions: blind writes, above,
// and the writes of a transaction that is rolled back, which are recorded
// as they run (holding them until COMMIT would move them after edges the
// thread made in between), so that a read unordered with one is reported
// although the write never became visible. docs/design.md, "Data stores",
// lists every approximation and what it may hide.
//
// # Drivers
//
// The wrapped connections, statements and rows implement every optional
// interface database/sql looks for (ExecerContext, QueryerContext,
// ConnPrepareContext, ConnBeginTx, NamedValueChecker, SessionResetter,
// Validator, Pinger, RowsNextResultSet, the RowsColumnType… interfaces) and
// forward each call to the wrapped driver when it has the method, doing
// what database/sql does when it lacks it otherwise (falling back to
// Prepare, the default conversion, a valid session): wrapping changes
// nothing but the records. Code that unwraps driver connections
// (sql.Conn.Raw) sees the wrapper. With MySQL, set clientFoundRows=true in
// the DSN so that an UPDATE reports the rows it matched rather than those
// whose values changed; otherwise an UPDATE that wrote a row's current value
// is not recorded.
package racewaysql
