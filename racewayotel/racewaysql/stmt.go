package racewaysql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"reflect"
)

// stmt is a prepared statement whose executions capture, like conn's
// ExecContext and QueryContext.
type stmt struct {
	inner driver.Stmt
	c     *conn
	query string
}

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

func (s *stmt) Close() error  { return s.inner.Close() }
func (s *stmt) NumInput() int { return s.inner.NumInput() }

// Exec is the deprecated driver.Stmt method; database/sql calls ExecContext.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), valuesToNamed(args))
}

// Query is the deprecated driver.Stmt method; database/sql calls
// QueryContext.
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), valuesToNamed(args))
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.exec(ctx, s.query, args, func() (driver.Result, error) {
		if e, ok := s.inner.(driver.StmtExecContext); ok {
			return e.ExecContext(ctx, args)
		}
		//lint:ignore SA1019 the wrapped driver has only the old interface
		return callOld(ctx, args, s.inner.Exec)
	})
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.query(ctx, s.query, args, func() (driver.Rows, error) {
		if q, ok := s.inner.(driver.StmtQueryContext); ok {
			return q.QueryContext(ctx, args)
		}
		//lint:ignore SA1019 the wrapped driver has only the old interface
		return callOld(ctx, args, s.inner.Query)
	})
}

// CheckNamedValue converts an argument as database/sql would for the
// wrapped statement: with its NamedValueChecker, else its connection's,
// else its (deprecated) ColumnConverter, else database/sql's default
// (driver.ErrSkip).
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	checker, ok := s.inner.(driver.NamedValueChecker)
	if !ok {
		checker, ok = s.c.inner.(driver.NamedValueChecker)
	}
	if ok {
		if err := checker.CheckNamedValue(nv); err != driver.ErrSkip {
			return err
		}
	}
	//lint:ignore SA1019 the wrapped driver may have only the old interface
	if cc, ok := s.inner.(driver.ColumnConverter); ok {
		return convertColumn(cc, s.inner.NumInput(), nv)
	}
	return driver.ErrSkip
}

// convertColumn converts nv with a ColumnConverter the way database/sql
// does: the value's own Valuer first, then the column's converter.
//
//lint:ignore SA1019 the wrapped driver may have only the old interface
func convertColumn(cc driver.ColumnConverter, want int, nv *driver.NamedValue) error {
	index := nv.Ordinal - 1
	if want >= 0 && want <= index {
		return nil // database/sql reports the argument count
	}
	if vr, ok := nv.Value.(driver.Valuer); ok {
		if rv := reflect.ValueOf(vr); rv.Kind() == reflect.Pointer && rv.IsNil() {
			nv.Value = nil
		} else {
			sv, err := vr.Value()
			if err != nil {
				return err
			}
			if !driver.IsValue(sv) {
				return fmt.Errorf("non-subset type %T returned from Value", sv)
			}
			nv.Value = sv
		}
	}
	arg := nv.Value
	v, err := cc.ColumnConverter(index).ConvertValue(arg)
	if err != nil {
		return err
	}
	if !driver.IsValue(v) {
		return fmt.Errorf("driver ColumnConverter error converted %T to unsupported type %T", arg, v)
	}
	nv.Value = v
	return nil
}

func valuesToNamed(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return nv
}
