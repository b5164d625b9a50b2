package racewaysql

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/internal/servertest"
)

// shopService is one simulated service: its own Tracker (process) and its
// own *sql.DB through the capture, and a goroutine (its request's logical
// thread) that runs what the test hands it, one step at a time.
type shopService struct {
	rec  *recorder
	db   *sql.DB
	sys  string
	jobs chan func()
	done chan struct{}
	ctx  context.Context
	end  func()
}

func newShopService(t *testing.T, name, sys, driver, dsn string) *shopService {
	t.Helper()
	r := newRecorder(t, name)
	db, err := Open(r.rw, driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	s := &shopService{rec: r, db: db, sys: sys, jobs: make(chan func()), done: make(chan struct{})}
	go func() {
		for f := range s.jobs {
			f()
			s.done <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		close(s.jobs)
		_ = db.Close()
	})
	return s
}

// request starts a request of the service on its goroutine: one logical
// thread, in a trace of its own, until finish.
func (s *shopService) request() {
	s.do(func() {
		ctx, span := s.rec.tracer.Start(context.Background(), "POST /checkout")
		s.ctx, s.end = ctx, func() { span.End() }
	})
}

func (s *shopService) finish() { s.do(func() { s.end() }) }

// do runs f on the service's goroutine and waits for it.
func (s *shopService) do(f func()) {
	s.jobs <- f
	<-s.done
}

// The steps of the scenarios, each run on a service's goroutine.
type shopStep func(t *testing.T, s *shopService, product int)

func (s *shopService) q(query string) string { return placeholders(s.sys, query) }

var (
	stockRead shopStep = func(t *testing.T, s *shopService, product int) {
		var stock int
		if err := s.db.QueryRowContext(s.ctx, s.q("SELECT stock FROM products WHERE id = ?"), product).Scan(&stock); err != nil {
			t.Error(err)
		}
	}
	stockWrite shopStep = func(t *testing.T, s *shopService, product int) {
		if _, err := s.db.ExecContext(s.ctx, s.q("UPDATE products SET stock = ? WHERE id = ?"), 999, product); err != nil {
			t.Error(err)
		}
	}
	decrement shopStep = func(t *testing.T, s *shopService, product int) {
		if _, err := s.db.ExecContext(s.ctx, s.q("UPDATE products SET stock = stock - 1 WHERE id = ?"), product); err != nil {
			t.Error(err)
		}
	}
)

// inTx runs a read-modify-write in a transaction that begins with begin
// (BeginTx's options; nil for the default) and reads with suffix (" FOR
// UPDATE"), preceded by lock (an advisory lock statement) if not "".
func inTx(opts *sql.TxOptions, suffix, lock string) shopStep {
	return func(t *testing.T, s *shopService, product int) {
		tx, err := s.db.BeginTx(s.ctx, opts)
		if err != nil {
			t.Error(err)
			return
		}
		defer tx.Rollback()
		if lock != "" {
			var ok any
			if err := tx.QueryRowContext(s.ctx, lock).Scan(&ok); err != nil {
				t.Error(err)
				return
			}
		}
		var stock int
		if err := tx.QueryRowContext(s.ctx, s.q("SELECT stock FROM products WHERE id = ?"+suffix), product).Scan(&stock); err != nil {
			t.Error(err)
			return
		}
		if _, err := tx.ExecContext(s.ctx, s.q("UPDATE products SET stock = ? WHERE id = ?"), stock-1, product); err != nil {
			t.Error(err)
			return
		}
		if lock != "" && s.sys == SystemMySQL {
			if _, err := tx.ExecContext(s.ctx, "SELECT RELEASE_LOCK('stock')"); err != nil {
				t.Error(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Error(err)
		}
	}
}

// TestScenarios runs the data-store scenarios of docs/design.md (13-15, and
// the isolation levels and advisory locks) on the real servers, through the
// capture and the detector in-process: two services (two Trackers, two
// connection pools), each request its own goroutine and trace, the steps in
// the order the fixture lists them, and the races the detector finds on the
// product's stock, next to each fixture. The same scenarios run through the
// real collector in examples/e2e.
func TestScenarios(t *testing.T) {
	forUpdate := map[string]string{SystemPostgres: " FOR UPDATE", SystemMySQL: " FOR UPDATE", SystemSQLite: ""}
	advisory := map[string]string{SystemPostgres: "SELECT pg_advisory_xact_lock(7)", SystemMySQL: "SELECT GET_LOCK('stock', 5)"}
	type fixture struct {
		scenario string
		systems  []string // nil: all
		// steps: "A" or "B" and what that service does next.
		steps []struct {
			svc  string
			step shopStep
		}
		want string // the races on the stock, by kind ("write/write lost update", "read/write"), sorted and joined; "" for none
	}
	type st = struct {
		svc  string
		step shopStep
	}
	fixtures := []fixture{
		{"13: both read, then write back (UPDATE … SET stock = ?): a lost update", nil,
			[]st{{"A", stockRead}, {"B", stockRead}, {"A", stockWrite}, {"B", stockWrite}},
			"read/write read/write write/write lost update"},
		{"15: both decrement in one statement: never a race", nil,
			[]st{{"A", decrement}, {"B", decrement}}, ""},
		{"a read before another's decrement: a race", nil,
			[]st{{"A", stockRead}, {"B", decrement}}, "read/write"},
	}
	for _, sys := range []string{SystemPostgres, SystemMySQL, SystemSQLite} {
		fixtures = append(fixtures,
			fixture{"14: both in a transaction that locks the row (SQLite: any transaction)", []string{sys},
				[]st{{"A", inTx(nil, forUpdate[sys], "")}, {"B", inTx(nil, forUpdate[sys], "")}}, ""},
			fixture{"14: one of them forgets the lock", []string{sys},
				[]st{{"A", inTx(nil, forUpdate[sys], "")}, {"B", stockRead}, {"B", stockWrite}}, "read/write read/write write/write"},
		)
		if lock := advisory[sys]; lock != "" {
			fixtures = append(fixtures, fixture{"an advisory lock taken by both", []string{sys},
				[]st{{"A", inTx(nil, "", lock)}, {"B", inTx(nil, "", lock)}}, ""})
		}
	}
	fixtures = append(fixtures,
		fixture{"PostgreSQL REPEATABLE READ aborts lost updates: no race", []string{SystemPostgres},
			[]st{{"A", inTx(&sql.TxOptions{Isolation: sql.LevelRepeatableRead}, "", "")},
				{"B", inTx(&sql.TxOptions{Isolation: sql.LevelRepeatableRead}, "", "")}}, ""},
		fixture{"InnoDB's REPEATABLE READ does not: a race", []string{SystemMySQL},
			[]st{{"A", inTx(&sql.TxOptions{Isolation: sql.LevelRepeatableRead}, "", "")},
				{"B", inTx(&sql.TxOptions{Isolation: sql.LevelRepeatableRead}, "", "")}}, "read/write read/write write/write"},
		fixture{"MySQL SERIALIZABLE reads lock in share mode: no race", []string{SystemMySQL},
			[]st{{"A", inTx(&sql.TxOptions{Isolation: sql.LevelSerializable}, "", "")},
				{"B", inTx(&sql.TxOptions{Isolation: sql.LevelSerializable}, "", "")}}, ""},
	)

	for _, sys := range servertest.Databases {
		t.Run(sys.System, func(t *testing.T) {
			_, dsn := sys.Open(t)
			admin := servertest.OpenDB(t, sys.Driver, dsn)
			servertest.Must(t, admin, "CREATE TABLE products (id int PRIMARY KEY, stock int)")
			for i := range fixtures {
				servertest.Must(t, admin, fmt.Sprintf("INSERT INTO products VALUES (%d, 1000)", i+1))
			}
			for i, f := range fixtures {
				if f.systems != nil && !slices.Contains(f.systems, sys.System) {
					continue
				}
				t.Run(f.scenario, func(t *testing.T) {
					product := i + 1
					svcs := map[string]*shopService{
						"A": newShopService(t, "orders-1", sys.System, sys.Driver, dsn),
						"B": newShopService(t, "inventory-1", sys.System, sys.Driver, dsn),
					}
					for _, s := range svcs {
						s.request()
					}
					for _, s := range f.steps {
						svc := svcs[s.svc]
						svc.do(func() { s.step(t, svc, product) })
					}
					var evs []analysis.Event
					for _, s := range []*shopService{svcs["A"], svcs["B"]} {
						s.finish()
						evs = append(evs, racewaytest.Decode(t, s.rec.rec.Ended())...)
					}
					v := fmt.Sprintf("/products/%d.stock", product)
					var got []string
					for _, r := range racewaytest.Races(t, evs) {
						if strings.HasSuffix(r.Var, v) {
							k := r.Kind.String()
							if r.LostUpdate != nil {
								k += " lost update"
							}
							got = append(got, k)
						}
					}
					slices.Sort(got)
					if g := strings.Join(got, " "); g != f.want {
						t.Errorf("races on %s: %q, want %q", v, g, f.want)
					}
				})
			}
		})
	}
}
