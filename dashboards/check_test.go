package dashboards_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// board is the part of a dashboard's JSON the checks read.
type board struct {
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title           string   `json:"title"`
	Type            string   `json:"type"`
	Datasource      *dsRef   `json:"datasource"`
	Targets         []target `json:"targets"`
	Transformations []struct {
		ID      string          `json:"id"`
		Options json.RawMessage `json:"options"`
	} `json:"transformations"`
	FieldConfig struct {
		Overrides []struct {
			Matcher struct {
				ID      string `json:"id"`
				Options any    `json:"options"`
			} `json:"matcher"`
			Properties []struct {
				ID    string          `json:"id"`
				Value json.RawMessage `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
	Panels []panel `json:"panels"` // a collapsed row's
}

type target struct {
	RefID        string `json:"refId"`
	Datasource   *dsRef `json:"datasource"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	Query      any    `json:"query"`
	Datasource *dsRef `json:"datasource"`
}

// eachPanel calls f for every panel, those of collapsed rows included.
func (b *board) eachPanel(f func(panel)) {
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			f(p)
			walk(p.Panels)
		}
	}
	walk(b.Panels)
}

// checkQueries checks every query of the dashboard (panel targets and query
// variables) against what the backends store; each problem names the panel
// or variable, the query and the name that is not emitted.
func checkQueries(b *board, s *stored) []string {
	var problems []string
	report := func(where string, ps []string) {
		for _, p := range ps {
			problems = append(problems, where+": "+p)
		}
	}
	for _, v := range b.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		report(fmt.Sprintf("variable %q (%s)", v.Name, q), s.checkLabelValues(q))
	}
	b.eachPanel(func(p panel) {
		if p.Type == "row" {
			return
		}
		var lokiFields bool
		for _, t := range p.Targets {
			where := fmt.Sprintf("panel %q query %s (%s)", p.Title, t.RefID, t.Expr)
			ds := p.Datasource
			if t.Datasource != nil {
				ds = t.Datasource
			}
			switch {
			case ds == nil:
				report(where, []string{"has no data source"})
			case ds.Type == "prometheus":
				report(where, s.checkPromQL(t.Expr, t.LegendFormat))
			case ds.Type == "loki":
				lokiFields = true
				report(where, s.checkLogQL(t.Expr, t.LegendFormat))
			default:
				report(where, []string{"uses data source type " + ds.Type + ", which this check does not know"})
			}
		}
		report(fmt.Sprintf("panel %q", p.Title), s.checkFieldRefs(p, lokiFields))
	})
	return problems
}

// Grafana's interval macros, replaced by a duration before parsing.
var macros = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "6h", "$__auto", "1m")

var promQL = parser.NewParser(parser.Options{})

// checkPromQL checks a PromQL query: every metric it selects is stored,
// every label it matches, groups by or shows in the legend is one of that
// metric's labels, and every literal it compares a label with is a value
// the code emits.
func (s *stored) checkPromQL(expr, legend string) []string {
	e, err := promQL.ParseExpr(macros.Replace(expr))
	if err != nil {
		return []string{fmt.Sprintf("does not parse as PromQL (Grafana variables may appear only inside label values): %v", err)}
	}
	// The metrics and their matchers first: grouping and legend checks
	// mean nothing on a metric that is not there.
	var problems []string
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		if n, ok := node.(*parser.VectorSelector); ok {
			problems = append(problems, s.checkSelector(n.Name, n.LabelMatchers)...)
		}
		return nil
	})
	if len(problems) > 0 {
		return problems
	}
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.AggregateExpr:
			have := s.resultLabels(n.Expr)
			for _, l := range n.Grouping {
				if !have[l] {
					problems = append(problems, fmt.Sprintf("groups by %s, which %s does not have (it has %s)", l, n.Expr, names(have)))
				}
			}
		case *parser.BinaryExpr:
			if vm := n.VectorMatching; vm != nil {
				lhs, rhs := s.resultLabels(n.LHS), s.resultLabels(n.RHS)
				for _, l := range slices.Concat(vm.MatchingLabels, vm.Include) {
					if !lhs[l] && !rhs[l] {
						problems = append(problems, fmt.Sprintf("matches on %s, which neither side of %s has", l, n))
					}
				}
			}
		}
		return nil
	})
	have := s.resultLabels(e)
	for _, l := range legendLabels(legend) {
		if !have[l] {
			problems = append(problems, fmt.Sprintf("legend shows {{%s}}, which the result does not have (it has %s)", l, names(have)))
		}
	}
	return problems
}

// checkSelector checks a metric selector: the metric is stored, and each
// matcher names one of its labels, with an emitted value when it is a
// literal equality.
func (s *stored) checkSelector(name string, matchers []*labels.Matcher) []string {
	se, ok := s.series[name]
	if !ok {
		return []string{fmt.Sprintf("selects metric %s, which nothing emits (the code emits %s)", name, s.similar(name))}
	}
	var problems []string
	for _, m := range matchers {
		if m.Name == model.MetricNameLabel {
			continue
		}
		vals, ok := se.labels[m.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("matches label %s, which %s (%s) does not have (it has %s)", m.Name, name, se.from, names(se.labels)))
			continue
		}
		if m.Type == labels.MatchEqual && vals != nil && !strings.Contains(m.Value, "$") && !vals[m.Value] {
			problems = append(problems, fmt.Sprintf("matches %s=%q, a value %s never has (emitted: %s)", m.Name, m.Value, name, names(vals)))
		}
	}
	return problems
}

// similar lists the stored metrics that share name's first two words, or
// all of them.
func (s *stored) similar(name string) string {
	words := strings.SplitN(name, "_", 3)
	prefix := strings.Join(words[:min(2, len(words))], "_")
	like := map[string]bool{}
	for n := range s.series {
		if strings.HasPrefix(n, prefix) {
			like[n] = true
		}
	}
	if len(like) == 0 {
		return names(s.series)
	}
	return names(like) + ", ..."
}

// resultLabels is the set of labels a PromQL expression's result has.
func (s *stored) resultLabels(e parser.Expr) map[string]bool {
	out := map[string]bool{}
	switch n := e.(type) {
	case *parser.VectorSelector:
		if se, ok := s.series[n.Name]; ok {
			for l := range se.labels {
				out[l] = true
			}
		}
	case *parser.MatrixSelector:
		return s.resultLabels(n.VectorSelector)
	case *parser.AggregateExpr:
		switch {
		case n.Without:
			out = s.resultLabels(n.Expr)
			for _, l := range n.Grouping {
				delete(out, l)
			}
		case n.Op == parser.TOPK || n.Op == parser.BOTTOMK || n.Op == parser.LIMITK || n.Op == parser.LIMIT_RATIO:
			return s.resultLabels(n.Expr)
		default:
			for _, l := range n.Grouping {
				out[l] = true
			}
		}
	case *parser.Call:
		for _, a := range n.Args {
			if t := a.Type(); t == parser.ValueTypeVector || t == parser.ValueTypeMatrix {
				return s.resultLabels(a)
			}
		}
	case *parser.BinaryExpr:
		// One-to-one and many-to-one matching keep the left side's labels
		// (plus group_left's); a scalar side contributes none.
		if n.LHS.Type() == parser.ValueTypeScalar {
			return s.resultLabels(n.RHS)
		}
		out = s.resultLabels(n.LHS)
		if n.VectorMatching != nil {
			for _, l := range n.VectorMatching.Include {
				out[l] = true
			}
		}
	case *parser.ParenExpr:
		return s.resultLabels(n.Expr)
	case *parser.UnaryExpr:
		return s.resultLabels(n.Expr)
	case *parser.SubqueryExpr:
		return s.resultLabels(n.Expr)
	case *parser.StepInvariantExpr:
		return s.resultLabels(n.Expr)
	}
	return out
}

var legendLabel = regexp.MustCompile(`{{\s*([^}\s]+)\s*}}`)

func legendLabels(legend string) []string {
	var out []string
	for _, m := range legendLabel.FindAllStringSubmatch(legend, -1) {
		out = append(out, m[1])
	}
	return out
}

// labelValuesQuery is Grafana's Prometheus variable query
// label_values(<selector>, <label>).
var labelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$`)

// checkLabelValues checks a query variable's label_values query.
func (s *stored) checkLabelValues(q string) []string {
	m := labelValuesQuery.FindStringSubmatch(strings.TrimSpace(q))
	if m == nil {
		return []string{"is not a label_values(<selector>, <label>) query, the only kind this check knows"}
	}
	e, err := promQL.ParseExpr(m[1])
	if err != nil {
		return []string{fmt.Sprintf("selector does not parse as PromQL: %v", err)}
	}
	vs, ok := e.(*parser.VectorSelector)
	if !ok {
		return []string{"the first argument is not a metric selector"}
	}
	if p := s.checkSelector(vs.Name, vs.LabelMatchers); len(p) > 0 {
		return p
	}
	if _, ok := s.series[vs.Name].labels[m[2]]; !ok {
		return []string{fmt.Sprintf("lists label %s, which %s does not have (it has %s)", m[2], vs.Name, names(s.series[vs.Name].labels))}
	}
	return nil
}

// countByQuery is the LogQL metric query the dashboard uses:
// sum by (fields) (count_over_time(<log query> [range])).
var countByQuery = regexp.MustCompile(`^sum by \(([^)]*)\) \(count_over_time\((.*) \[[^\]]+\]\)\)$`)

// checkLogQL checks a LogQL query: a log query, or a count of one by
// fields (countByQuery), whose legend may show those fields.
func (s *stored) checkLogQL(expr, legend string) []string {
	m := countByQuery.FindStringSubmatch(expr)
	if m == nil {
		if legend != "" {
			return []string{"has a legend, but a log query has no series"}
		}
		return s.checkLogQuery(expr)
	}
	problems := s.checkLogQuery(m[2])
	by := map[string]bool{}
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimSpace(f)
		by[f] = true
		if _, ok := s.logs.fields[f]; !ok {
			problems = append(problems, fmt.Sprintf("counts by %s, which the race log records do not have (%s; they have %s)", f, s.logs.from, names(s.logs.fields)))
		}
	}
	for _, l := range legendLabels(legend) {
		if !by[l] {
			problems = append(problems, fmt.Sprintf("legend shows {{%s}}, which the result does not have (it has %s)", l, names(by)))
		}
	}
	return problems
}

// checkLogQuery checks a LogQL log query of the form
//
//	{stream selector} | field op "value" |= "text" ...
//
// (stream selectors, label filters and line filters: what the dashboard
// uses; anything else is reported so that it gets a check). Stream labels
// must be labels Loki indexes, filtered fields must be stored fields, and
// literal equalities must compare with emitted values.
func (s *stored) checkLogQuery(expr string) []string {
	end := selectorEnd(expr)
	if end < 0 {
		return []string{"does not start with a {stream selector}"}
	}
	matchers, err := promQL.ParseMetricSelector(expr[:end])
	if err != nil {
		return []string{fmt.Sprintf("stream selector does not parse: %v", err)}
	}
	var problems []string
	checkValue := func(kind, name string, vals values, op, value string) {
		if op == "=" && vals != nil && !strings.Contains(value, "$") && !vals[value] {
			problems = append(problems, fmt.Sprintf("%s %s=%q: a value the race log records never have (emitted: %s)", kind, name, value, names(vals)))
		}
	}
	for _, m := range matchers {
		vals, ok := s.logs.stream[m.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("stream selector uses %s, which is not a stream label of the race log records (%s; they have %s)", m.Name, s.logs.from, names(s.logs.stream)))
			continue
		}
		checkValue("stream selector", m.Name, vals, map[labels.MatchType]string{labels.MatchEqual: "="}[m.Type], m.Value)
	}
	rest := strings.TrimSpace(expr[end:])
	for rest != "" {
		switch {
		case hasAnyPrefix(rest, "|=", "|~", "!=", "!~"):
			_, tail, err := quoted(strings.TrimSpace(rest[2:]))
			if err != nil {
				return append(problems, fmt.Sprintf("line filter at %q: %v", rest, err))
			}
			rest = tail
		case strings.HasPrefix(rest, "|"):
			name, op, value, tail, err := labelFilter(strings.TrimSpace(rest[1:]))
			if err != nil {
				return append(problems, fmt.Sprintf("at %q: %v (this check knows label filters field op \"value\" and line filters)", rest, err))
			}
			if vals, ok := s.logs.fields[name]; !ok {
				problems = append(problems, fmt.Sprintf("filters on %s, which the race log records do not have (%s; they have %s)", name, s.logs.from, names(s.logs.fields)))
			} else {
				checkValue("filter", name, vals, op, value)
			}
			rest = tail
		default:
			return append(problems, fmt.Sprintf("at %q: not a label or line filter", rest))
		}
		rest = strings.TrimSpace(rest)
	}
	return problems
}

// selectorEnd is the index just past a leading {…} stream selector, or -1.
func selectorEnd(s string) int {
	if !strings.HasPrefix(s, "{") {
		return -1
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '"', '`':
			q, err := strconv.QuotedPrefix(s[i:])
			if err != nil {
				return -1
			}
			i += len(q) - 1
		case '}':
			return i + 1
		}
	}
	return -1
}

var filterName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)

// labelFilter parses `name op "value"` at the start of s.
func labelFilter(s string) (name, op, value, rest string, err error) {
	name = filterName.FindString(s)
	if name == "" {
		return "", "", "", "", fmt.Errorf("no field name")
	}
	s = strings.TrimSpace(s[len(name):])
	for _, o := range []string{"=~", "!~", "!=", "==", "="} {
		if strings.HasPrefix(s, o) {
			op = o
			break
		}
	}
	if op == "" {
		return "", "", "", "", fmt.Errorf("no comparison after %s", name)
	}
	if op == "==" {
		op = "="
		s = s[1:]
	}
	value, rest, err = quoted(strings.TrimSpace(s[len(op):]))
	return name, op, value, rest, err
}

// quoted reads a Go-style quoted string at the start of s.
func quoted(s string) (value, rest string, err error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", fmt.Errorf("no quoted string: %w", err)
	}
	value, err = strconv.Unquote(q)
	return value, s[len(q):], err
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Fields every Loki log frame has, besides the stored fields: a table can
// show or filter them.
var lokiFrameFields = map[string]bool{"Time": true, "Line": true, "labels": true}

// checkFieldRefs checks the field names a panel's transformations and
// overrides use: on a Loki panel they must be log fields; elsewhere they
// are not checked, so none may be used.
func (s *stored) checkFieldRefs(p panel, loki bool) []string {
	var refs []string
	for _, tr := range p.Transformations {
		switch tr.ID {
		case "extractFields":
		case "filterFieldsByName":
			var o struct {
				Include struct {
					Names []string `json:"names"`
				} `json:"include"`
			}
			if err := json.Unmarshal(tr.Options, &o); err != nil {
				return []string{"filterFieldsByName options: " + err.Error()}
			}
			refs = append(refs, o.Include.Names...)
		default:
			return []string{"uses transformation " + tr.ID + ", which this check does not know"}
		}
	}
	for _, o := range p.FieldConfig.Overrides {
		if o.Matcher.ID != "byName" {
			return []string{"has an override matched " + o.Matcher.ID + ", which this check does not know"}
		}
		name, _ := o.Matcher.Options.(string)
		refs = append(refs, name)
		for _, prop := range o.Properties {
			if prop.ID == "links" {
				refs = append(refs, linkFields(prop.Value)...)
			}
		}
	}
	if len(refs) > 0 && !loki {
		return []string{"refers to fields by name, which this check only verifies on Loki panels"}
	}
	var problems []string
	for _, r := range refs {
		if _, ok := s.logs.fields[r]; !ok && !lokiFrameFields[r] {
			problems = append(problems, fmt.Sprintf("refers to field %s, which the race log records do not have (%s; they have %s)", r, s.logs.from, names(s.logs.fields)))
		}
	}
	return problems
}

var dataField = regexp.MustCompile(`\$\{__data\.fields\.([^}]+)\}`)

// linkFields lists the fields a links property's URLs interpolate.
func linkFields(raw json.RawMessage) []string {
	var links []struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(raw, &links); err != nil {
		return []string{"(unreadable links: " + err.Error() + ")"}
	}
	var out []string
	for _, l := range links {
		for _, m := range dataField.FindAllStringSubmatch(l.URL, -1) {
			out = append(out, strings.Trim(m[1], `["]`))
		}
	}
	return out
}
