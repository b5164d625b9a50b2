package racewaysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/internal/twogen"
)

// Open opens a database like [sql.Open], through the driver registered as
// driverName wrapped so that rw records every statement's shared reads and
// writes. A nil rw records nothing (the wrapper then only passes calls
// through).
func Open(rw *racewayotel.Tracker, driverName, dataSourceName string, opts ...Option) (*sql.DB, error) {
	db, err := sql.Open(driverName, dataSourceName) // connects to nothing: only finds the driver
	if err != nil {
		return nil, err
	}
	d := db.Driver()
	_ = db.Close()
	c, err := WrapDriver(rw, d, opts...).(driver.DriverContext).OpenConnector(dataSourceName)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// OpenDB opens a database like [sql.OpenDB] through the connector c,
// wrapped as [WrapConnector] does.
func OpenDB(rw *racewayotel.Tracker, c driver.Connector, opts ...Option) *sql.DB {
	return sql.OpenDB(WrapConnector(rw, c, opts...))
}

// Register registers driverName's driver, wrapped as [WrapDriver] does,
// under a new name that it returns, for code that opens databases by
// driver name (sql.Open(name, dsn)).
func Register(rw *racewayotel.Tracker, driverName string, opts ...Option) (string, error) {
	db, err := sql.Open(driverName, "")
	if err != nil {
		return "", err
	}
	d := db.Driver()
	_ = db.Close()
	name := fmt.Sprintf("racewaysql-%s-%d", driverName, registered.Add(1))
	sql.Register(name, WrapDriver(rw, d, opts...))
	return name, nil
}

var registered atomic.Int64

// WrapDriver returns d wrapped so that rw records the statements of the
// connections it opens. The result implements driver.DriverContext: its
// connectors wrap d's, or open connections with d.Open.
func WrapDriver(rw *racewayotel.Tracker, d driver.Driver, opts ...Option) driver.Driver {
	return &wrappedDriver{inner: d, cap: newCapture(rw, opts, d)}
}

// WrapConnector returns c wrapped so that rw records the statements of the
// connections it opens. Compose it with otelsql-style tracing in either
// order: wrapped inside the tracing layer, records land on its statement
// spans; outside it, on the caller's span.
func WrapConnector(rw *racewayotel.Tracker, c driver.Connector, opts ...Option) driver.Connector {
	cp := newCapture(rw, opts, c, c.Driver())
	return &connector{inner: c, cap: cp, drv: &wrappedDriver{inner: c.Driver(), cap: cp}}
}

// capture is what the connections of one wrapped driver or connector
// share.
type capture struct {
	rw  *racewayotel.Tracker
	cfg config

	mu     sync.Mutex // guards system
	system string     // "" until known

	catalog catalog
	stmts   stmtCache
}

func newCapture(rw *racewayotel.Tracker, opts []Option, drivers ...any) *capture {
	c := &capture{rw: rw, cfg: newConfig(opts)}
	c.system = c.cfg.system
	for _, d := range drivers {
		if c.system == "" {
			c.system = systemOfType(d)
		}
	}
	c.catalog.declared = c.cfg.primaryKeys
	return c
}

// newConn wraps a new driver connection, learning its session.
func (cp *capture) newConn(ctx context.Context, ic driver.Conn) *conn {
	c := &conn{inner: ic, cap: cp, sess: session{autocommit: true}}
	if cp.rw == nil {
		return c
	}
	cp.mu.Lock()
	if cp.system == "" {
		cp.system, c.sess.err = probeSystem(ctx, ic)
	}
	system := cp.system
	cp.mu.Unlock()
	if c.sess.err != nil {
		return c
	}
	c.sess.system = system
	c.sess.d, _ = dialectOf(system)
	info, err := learnSession(ctx, ic, system)
	if err != nil {
		c.sess.err = err
		return c
	}
	c.sess.database, c.sess.iso, c.sess.autocommit = info.database, info.iso, info.autocommit
	if cp.cfg.database != "" {
		c.sess.database = cp.cfg.database
	}
	if c.sess.database == "" {
		c.sess.err = fmt.Errorf("racewaysql: the connection has no current database; use WithDatabase")
	}
	return c
}

// wrappedDriver is a driver.Driver whose connections capture.
type wrappedDriver struct {
	inner driver.Driver
	cap   *capture
}

func (d *wrappedDriver) Open(name string) (driver.Conn, error) {
	ic, err := d.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return d.cap.newConn(context.Background(), ic), nil
}

// OpenConnector returns a connector for name: the wrapped driver's own, when
// it has one (driver.DriverContext), else one that calls its Open, as
// database/sql would.
func (d *wrappedDriver) OpenConnector(name string) (driver.Connector, error) {
	var ic driver.Connector = dsnConnector{dsn: name, d: d.inner}
	if dc, ok := d.inner.(driver.DriverContext); ok {
		var err error
		if ic, err = dc.OpenConnector(name); err != nil {
			return nil, err
		}
	}
	return &connector{inner: ic, cap: d.cap, drv: d}, nil
}

type dsnConnector struct {
	dsn string
	d   driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

// connector is a driver.Connector whose connections capture.
type connector struct {
	inner driver.Connector
	cap   *capture
	drv   *wrappedDriver
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	ic, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return c.cap.newConn(ctx, ic), nil
}

func (c *connector) Driver() driver.Driver { return c.drv }

// Close closes the wrapped connector when it has a Close method (database/sql
// calls it from DB.Close).
func (c *connector) Close() error {
	if cl, ok := c.inner.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// stmtCache keeps the statements parsed per query text and dialect: the
// fast path of the statements an application and its ORM run again and
// again. It is bounded like the catalog: two generations of at most
// maxStatements/2 statements; queries longer than maxCachedQuery bytes are
// parsed each time.
type stmtCache struct {
	mu    sync.Mutex
	stmts twogen.Map[stmtKey, *statement]
}

type stmtKey struct {
	d     dialect
	query string
}

const (
	maxStatements  = 2048
	maxCachedQuery = 4096
)

// statement returns the parsed query.
func (c *stmtCache) statement(d dialect, query string) *statement {
	if d == 0 {
		return skip(reasonSession)
	}
	if len(query) > maxCachedQuery {
		return parse(query, d)
	}
	k := stmtKey{d, query}
	c.mu.Lock()
	st, ok := c.stmts.Get(k, maxStatements/2)
	c.mu.Unlock()
	if ok {
		return st
	}
	st = parse(query, d)
	c.mu.Lock()
	c.stmts.Put(k, st, maxStatements/2)
	c.mu.Unlock()
	return st
}
