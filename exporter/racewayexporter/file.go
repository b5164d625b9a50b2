package racewayexporter // import "github.com/raceway-otel/raceway/exporter/racewayexporter"

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// FileRecord is one line of the JSON-lines file: one finding.
type FileRecord struct {
	Time       time.Time      `json:"time"`
	TraceID    string         `json:"trace_id"`
	SpanID     string         `json:"span_id"`
	Name       string         `json:"name"`
	Severity   string         `json:"severity"`
	Var        string         `json:"var"`
	Kind       string         `json:"kind"`
	Report     string         `json:"report"`
	Attributes map[string]any `json:"attributes"`
	Links      []FileLink     `json:"links,omitempty"`
}

// FileLink is a link of the finding span: one racing access's span.
type FileLink struct {
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id"`
}

func fileRecord(f finding) FileRecord {
	tid, sid := f.span.TraceID(), f.span.SpanID()
	r := FileRecord{
		Time:       f.time().AsTime().UTC(),
		TraceID:    hex.EncodeToString(tid[:]),
		SpanID:     hex.EncodeToString(sid[:]),
		Name:       f.span.Name(),
		Severity:   f.str(convention.RaceSeverity),
		Var:        f.str(convention.RaceVar),
		Kind:       f.str(convention.RaceKind),
		Report:     f.report(),
		Attributes: make(map[string]any),
	}
	f.span.Attributes().Range(func(k string, v pcommon.Value) bool {
		if strings.HasPrefix(k, racePrefix) && k != convention.RaceReport {
			r.Attributes[k] = v.AsRaw()
		}
		return true
	})
	tids, sids := f.links()
	for i := range tids {
		r.Links = append(r.Links, FileLink{TraceID: tids[i], SpanID: sids[i]})
	}
	return r
}

// jsonlFile appends findings to a file, one JSON object a line, and stops
// writing once the file would exceed maxBytes.
type jsonlFile struct {
	mu       sync.Mutex
	f        *os.File
	size     int64
	maxBytes int64
}

func openJSONL(path string, maxBytes int64) (*jsonlFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &jsonlFile{f: f, size: st.Size(), maxBytes: maxBytes}, nil
}

// write appends the findings; it returns how many were not written (file
// full) and the first write error.
func (j *jsonlFile) write(fs []finding) (dropped int, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var buf []byte
	for i, f := range fs {
		line, mErr := json.Marshal(fileRecord(f))
		if mErr != nil {
			dropped++
			err = mErr
			continue
		}
		line = append(line, '\n')
		if j.size+int64(len(buf))+int64(len(line)) > j.maxBytes {
			dropped += len(fs) - i
			break
		}
		buf = append(buf, line...)
	}
	if len(buf) == 0 {
		return dropped, err
	}
	n, wErr := j.f.Write(buf)
	j.size += int64(n)
	if wErr != nil {
		// lines not fully written are counted as dropped
		return len(fs), wErr
	}
	return dropped, err
}

func (j *jsonlFile) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
