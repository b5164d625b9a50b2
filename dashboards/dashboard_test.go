//lint:file-ignore SA1019 the dashboard is the classic (v1) model on purpose: see raceway.go

package dashboards_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"go.yaml.in/yaml/v3"

	"github.com/raceway-otel/raceway/dashboards"
)

const committed = "raceway.json"

func readCommitted(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func loadBoard(t *testing.T) *board {
	t.Helper()
	var b board
	if err := json.Unmarshal(readCommitted(t), &b); err != nil {
		t.Fatal(err)
	}
	return &b
}

// TestJSONIsGenerated fails when raceway.json is not what the generator
// produces.
func TestJSONIsGenerated(t *testing.T) {
	want, err := dashboards.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readCommitted(t), want) {
		t.Fatalf("%s is not what the generator produces: run\n\tgo run ./cmd/racewaydashboard > %s\nin dashboards/ (and edit raceway.go, not the JSON)", committed, committed)
	}
}

// TestSchema loads raceway.json with the Foundation SDK's strict decoder
// (every field known, every panel and query type registered) and validates
// it.
func TestSchema(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	// UnmarshalJSONStrict returns its error list even when it is empty.
	if err := d.UnmarshalJSONStrict(readCommitted(t)); err != nil {
		if errs, ok := err.(cog.BuildErrors); !ok || len(errs) > 0 {
			t.Fatalf("%s does not decode strictly: %v", committed, err)
		}
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("%s: %v", committed, err)
	}
	if d.Uid == nil || *d.Uid != dashboards.UID {
		t.Errorf("uid %v, want %s", d.Uid, dashboards.UID)
	}
}

var (
	varRef = regexp.MustCompile(`^\$\{([A-Za-z0-9_]+)\}$|^\$([A-Za-z0-9_]+)$`)
	// linkDataSource finds the data source of an Explore link's pane or
	// query: "datasource":"…" or "datasource":{"uid":"…"}.
	linkDataSource = regexp.MustCompile(`"datasource":(?:\{"uid":)?"([^"]*)"`)
)

// TestDataSourcesAreVariables: every data source reference in the dashboard
// (panels, queries, variables, links) is a data source variable of the
// same plugin type, never a uid of somebody's Grafana.
func TestDataSourcesAreVariables(t *testing.T) {
	b := loadBoard(t)
	dsVars := map[string]string{} // name -> plugin type
	for _, v := range b.Templating.List {
		if v.Type == "datasource" {
			typ, _ := v.Query.(string)
			dsVars[v.Name] = typ
		}
	}
	for _, name := range []string{dashboards.MetricsVar, dashboards.LogsVar, dashboards.TracesVar} {
		if dsVars[name] == "" {
			t.Errorf("no data source variable %q", name)
		}
	}
	var raw any
	if err := json.Unmarshal(readCommitted(t), &raw); err != nil {
		t.Fatal(err)
	}
	refs := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				p := path + "." + k
				switch {
				case k == "datasource":
					refs++
					ref, ok := child.(map[string]any)
					if !ok {
						t.Errorf("%s: %v is not a {type, uid} reference to a data source variable", p, child)
						continue
					}
					uid, _ := ref["uid"].(string)
					typ, _ := ref["type"].(string)
					m := varRef.FindStringSubmatch(uid)
					if m == nil {
						t.Errorf("%s: uid %q is not a data source variable", p, uid)
						continue
					}
					name := m[1] + m[2]
					if dsVars[name] == "" {
						t.Errorf("%s: uid %q names no data source variable (have %s)", p, uid, names(dsVars))
					} else if dsVars[name] != typ {
						t.Errorf("%s: type %q, but variable %s is a %q data source", p, typ, name, dsVars[name])
					}
				case strings.EqualFold(k, "datasourceUid"):
					t.Errorf("%s: %v: data sources are referenced through variables", p, child)
				default:
					walk(p, child)
				}
			}
		case []any:
			for _, child := range v {
				walk(path+"[]", child)
			}
		case string:
			// Links to other data sources go through the variables too.
			for _, m := range linkDataSource.FindAllStringSubmatch(v, -1) {
				if varRef.FindStringSubmatch(m[1]) == nil || dsVars[strings.Trim(m[1], "${}")] == "" {
					t.Errorf("%s: link names data source %q, not a data source variable", path, m[1])
				}
			}
		}
	}
	walk("", raw)
	if refs == 0 {
		t.Fatal("no data source references found: the walk is broken")
	}
}

// TestQueriesUseEmittedNames is the check a rename in the exporter, the
// processor or the library breaks: every query of the dashboard names
// metrics, labels, stream labels and log fields that the code emits, as
// Prometheus and Loki store them.
func TestQueriesUseEmittedNames(t *testing.T) {
	b := loadBoard(t)
	queries := 0
	b.eachPanel(func(p panel) { queries += len(p.Targets) })
	if queries == 0 {
		t.Fatal("no queries found in the dashboard: the walk is broken")
	}
	problems := checkQueries(b, emitted(t))
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		t.Log("if the code's rename is meant, fix the query in dashboards/raceway.go and the table in dashboards/README.md, then run: go run ./cmd/racewaydashboard > raceway.json")
	}
}

// TestCheckCatchesRenames shows that the check can fail: with a metric, a
// label, a label value and a log field renamed in what the code emits (as a
// rename in the exporter would), the problems name the panels that use them.
func TestCheckCatchesRenames(t *testing.T) {
	b := loadBoard(t)
	s := emitted(t)
	renamed := newStored()
	for name, se := range s.series {
		labels := map[string]values{}
		for l, v := range se.labels {
			labels[l] = v
		}
		renamed.series[name] = &series{from: se.from, labels: labels}
	}
	renamed.logs = logFields{from: s.logs.from, stream: s.logs.stream, fields: map[string]values{}}
	for f, v := range s.logs.fields {
		renamed.logs.fields[f] = v
	}

	// The names this test mutates must be emitted today (when one is renamed
	// for good, TestQueriesUseEmittedNames says so first; then update this).
	must := func(name string) *series {
		t.Helper()
		se, ok := renamed.series[name]
		if !ok {
			t.Fatalf("%s is no longer emitted: update this test", name)
		}
		return se
	}
	for _, f := range []string{"trace_id", "raceway_race_lost_update", "raceway_race_var"} {
		if _, ok := renamed.logs.fields[f]; !ok {
			t.Fatalf("log field %s is no longer emitted: update this test", f)
		}
	}
	rename := func(m map[string]*series, from, to string) {
		m[to] = must(from)
		delete(m, from)
	}
	must("raceway_races_total")
	must("raceway_records_lost_total")
	rename(renamed.series, "raceway_race_occurrences_total", "raceway_race_occurrence_count_total")
	delete(must("otelcol_processor_raceway_evictions_total").labels, "evicted")
	renamed.series["raceway_race_occurrence_count_total"].labels["raceway_race_severity"] = values{"warning": true}
	delete(renamed.logs.fields, "trace_id")
	delete(renamed.logs.fields, "raceway_race_lost_update")
	delete(renamed.logs.fields, "raceway_race_var")
	delete(renamed.series, "raceway_records_lost_total")

	problems := strings.Join(checkQueries(b, renamed), "\n")
	for _, want := range []string{
		`panel "Race occurrences by variable and service pair" query A`,
		`selects metric raceway_race_occurrences_total, which nothing emits`,
		`variable "variable"`,
		`panel "Evictions" query A`,
		`groups by evicted`,
		`panel "Findings": refers to field trace_id`,
		`panel "Lost update reports" query A`,
		`filters on raceway_race_lost_update`,
		`panel "Findings over time, by variable" query A`,
		`counts by raceway_race_var`,
		`panel "Records lost, dropped or skipped" query A`,
	} {
		if !strings.Contains(problems, want) {
			t.Errorf("the check does not report %q; it reports:\n%s", want, problems)
		}
	}
	// A legend label the result lacks is caught.
	if p := strings.Join(renamed.checkPromQL(`sum by (job) (rate(raceway_records_total[5m]))`, "{{raceway_span_kind}}"), "\n"); !strings.Contains(p, "legend shows {{raceway_span_kind}}") {
		t.Errorf("the check does not report a legend label the result lacks; it reports: %q", p)
	}
	// A literal value no longer emitted is caught too.
	delete(renamed.series, "raceway_race_occurrence_count_total")
	rename(renamed.series, "raceway_races_total", "raceway_race_occurrences_total")
	renamed.series["raceway_race_occurrences_total"].labels["raceway_race_severity"] = values{"warning": true, "error": true}
	if p := strings.Join(checkQueries(b, renamed), "\n"); !strings.Contains(p, `raceway_race_severity="critical", a value`) {
		t.Errorf("the check does not report the severity no longer emitted; it reports:\n%s", p)
	}
}

// TestProvisioning checks the provisioning examples against the dashboard:
// a data source for each of its data source variables, and a Loki derived
// field that links the race log's trace id field to the traces data source.
func TestProvisioning(t *testing.T) {
	var ds struct {
		Datasources []struct {
			Name, Type, UID string
			JSONData        struct {
				DerivedFields []struct {
					Name          string `yaml:"name"`
					MatcherType   string `yaml:"matcherType"`
					MatcherRegex  string `yaml:"matcherRegex"`
					DatasourceUID string `yaml:"datasourceUid"`
				} `yaml:"derivedFields"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, "provisioning/datasources/raceway.yaml", &ds)
	byUID := map[string]string{}
	types := map[string]bool{}
	for _, d := range ds.Datasources {
		byUID[d.UID] = d.Type
		types[d.Type] = true
	}
	dsVars := map[string]string{}
	for _, v := range loadBoard(t).Templating.List {
		if v.Type == "datasource" {
			typ, _ := v.Query.(string)
			dsVars[v.Name] = typ
			if !types[typ] {
				t.Errorf("no provisioned %s data source for variable $%s", typ, v.Name)
			}
		}
	}
	links := 0
	for _, d := range ds.Datasources {
		for _, f := range d.JSONData.DerivedFields {
			links++
			if d.Type != "loki" || f.MatcherType != "label" {
				t.Errorf("derived field %q: want a label matcher on the Loki data source", f.Name)
			}
			if _, ok := emitted(t).logs.fields[f.MatcherRegex]; !ok {
				t.Errorf("derived field %q matches %s, which the race log records do not have", f.Name, f.MatcherRegex)
			}
			if byUID[f.DatasourceUID] != dsVars[dashboards.TracesVar] {
				t.Errorf("derived field %q links to %q, not a provisioned %s data source", f.Name, f.DatasourceUID, dsVars[dashboards.TracesVar])
			}
		}
	}
	if links == 0 {
		t.Error("no derived field links the race log to the finding traces")
	}

	var dash struct {
		Providers []struct {
			Type    string
			Options struct{ Path string }
		}
	}
	readYAML(t, "provisioning/dashboards/raceway.yaml", &dash)
	if len(dash.Providers) != 1 || dash.Providers[0].Type != "file" || dash.Providers[0].Options.Path == "" {
		t.Errorf("want one file provider with a path, got %+v", dash.Providers)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
