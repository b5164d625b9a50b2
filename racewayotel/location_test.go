package racewayotel_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Every verb records the code location of its caller.
func TestCodeLocationIsTheCaller(t *testing.T) {
	s := newService(t, "loc")
	ctx, span := s.start(context.Background(), "op")
	want := map[string]int{} // event name → line of the call
	line := func() int { _, _, l, _ := runtime.Caller(1); return l }
	var mu sync.Mutex

	s.rw.TrackStateChange(ctx, "x", nil, 1, racewayotel.Read)
	want["raceway.read"] = line() - 1
	s.rw.TrackSharedStateChange(ctx, "db/rows/1.v", 1, 2, racewayotel.Write)
	want["raceway.write"] = line() - 1
	s.rw.WithLock(ctx, &mu, "mu", func() {})
	want["raceway.lock.acquire"] = line() - 1
	s.rw.TrackError(ctx, errors.New("boom"))
	want["raceway.error"] = line() - 1
	s.rw.TrackFunctionCall(ctx, "f")
	want["raceway.call"] = line() - 1
	span.End()

	_, file, _, _ := runtime.Caller(0)
	got := map[string]bool{}
	for _, sp := range s.rec.Ended() {
		for _, ev := range sp.Events() {
			wantLine, ok := want[ev.Name]
			if !ok {
				continue
			}
			got[ev.Name] = true
			var path string
			var gotLine int64
			for _, kv := range ev.Attributes {
				switch kv.Key {
				case convention.CodeFilePath:
					path = kv.Value.AsString()
				case convention.CodeLineNumber:
					gotLine = kv.Value.AsInt64()
				}
			}
			if filepath.Base(path) != filepath.Base(file) || gotLine != int64(wantLine) {
				t.Errorf("%s at %s:%d, want %s:%d", ev.Name, path, gotLine, filepath.Base(file), wantLine)
			}
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("no %s record", name)
		}
	}
}
