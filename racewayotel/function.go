package racewayotel

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/raceway-otel/raceway/analysis"
)

// TrackFunctionCall records that function was entered. Call it at the top of
// the function; code.function.name is set to function (or to the calling
// function when function is empty). args are added to the record as they
// are.
func (t *Tracker) TrackFunctionCall(ctx context.Context, function string, args ...attribute.KeyValue) {
	if t == nil {
		return
	}
	t.track(ctx, &record{kind: analysis.KindCall, loc: callerLocation(1), function: function, extra: args})
}

// TrackFunctionReturn records that function returns. attrs (a return value,
// for example) are added to the record as they are.
func (t *Tracker) TrackFunctionReturn(ctx context.Context, function string, attrs ...attribute.KeyValue) {
	if t == nil {
		return
	}
	t.track(ctx, &record{kind: analysis.KindReturn, loc: callerLocation(1), function: function, extra: attrs})
}

// StartFunction records a call of function and returns a func that records
// its return with the time it took (raceway.duration_ns). Use it with defer:
//
//	defer rw.StartFunction(ctx, "transfer")()
func (t *Tracker) StartFunction(ctx context.Context, function string, args ...attribute.KeyValue) func() {
	if t == nil {
		return func() {}
	}
	loc := callerLocation(1)
	t.track(ctx, &record{kind: analysis.KindCall, loc: loc, function: function, extra: args})
	start := time.Now()
	return func() {
		t.track(ctx, &record{kind: analysis.KindReturn, loc: loc, function: function, duration: max(1, time.Since(start).Nanoseconds())})
	}
}

// TrackFunction records a call of function, runs fn and records its return
// with the time it took, also when fn panics. A non-nil error from fn is
// recorded (as by [Tracker.TrackError]) before the return and returned.
func (t *Tracker) TrackFunction(ctx context.Context, function string, fn func(context.Context) error) (err error) {
	if t == nil {
		return fn(ctx)
	}
	loc := callerLocation(1)
	t.track(ctx, &record{kind: analysis.KindCall, loc: loc, function: function})
	start := time.Now()
	defer func() {
		if err != nil {
			t.track(ctx, &record{kind: analysis.KindError, loc: loc, message: err.Error()})
		}
		t.track(ctx, &record{kind: analysis.KindReturn, loc: loc, function: function, duration: max(1, time.Since(start).Nanoseconds())})
	}()
	return fn(ctx)
}
