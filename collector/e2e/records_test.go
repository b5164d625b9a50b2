package e2e

import (
	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/internal/collectortest"
)

// addRecord adds e to span as racewayotel records it, at at; it returns the
// event, which tests of malformed input then spoil. It is
// collectortest.AddRecord, under the name the tests use.
var addRecord = collectortest.AddRecord

// bankRecord is the record of kind, epoch th@seq, that the bank process
// bank-1 makes at line of its transfer code.
func bankRecord(kind analysis.Kind, th analysis.ThreadID, seq uint64, line int) analysis.Event {
	return analysis.Event{
		Kind:    kind,
		Epoch:   analysis.Epoch{Thread: th, Seq: seq},
		Process: "bank-1",
		Where:   analysis.Location{File: file, Line: line, Function: "main.transfer"},
	}
}

// requestStart is bankRecord's thread.start of a request thread named name.
func requestStart(th analysis.ThreadID, line int, name string) analysis.Event {
	e := bankRecord(analysis.KindStart, th, 1, line)
	e.Origin, e.ThreadName = analysis.OriginRequest, name
	return e
}

// access is bankRecord's read (old == "") or write of v.
func access(kind analysis.Kind, th analysis.ThreadID, seq uint64, line int, v, old, val string) analysis.Event {
	e := bankRecord(kind, th, seq, line)
	e.Var, e.Old, e.New, e.HasValues = v, old, val, true
	return e
}
