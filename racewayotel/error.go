package racewayotel

import (
	"context"

	"github.com/raceway-otel/raceway/analysis"
)

// TrackError records err (its message, as exception.message) at the caller's
// location. A nil err records nothing.
func (t *Tracker) TrackError(ctx context.Context, err error) {
	if t == nil || err == nil {
		return
	}
	t.track(ctx, &record{kind: analysis.KindError, loc: callerLocation(1), message: cut(err.Error(), analysis.MaxValueLen)})
}
