package dashboards_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.yaml.in/yaml/v3"

	"github.com/raceway-otel/raceway/exporter/racewayexporter"
	"github.com/raceway-otel/raceway/internal/stack"
	"github.com/raceway-otel/raceway/racewayotel"
)

// Where the code declares or produces its signals, relative to this module.
const (
	processorMetadata = "../processor/racewayprocessor/metadata.yaml"
	exporterMetadata  = "../exporter/racewayexporter/metadata.yaml"
	// findingsGolden is the raceway processor's output for the bank lost
	// update (two finding spans), checked by the processor's own golden
	// test: the exporter's input here.
	findingsGolden = "../processor/racewayprocessor/testdata/lost_update_expected.yaml"
)

var (
	emittedOnce sync.Once
	emittedAll  *stored
	emittedErr  error
)

// emitted is what the code emits, as the backends store it: the
// collector's own metrics declared in the processor's and the exporter's
// metadata.yaml, the race metrics and log records the raceway exporter
// produces from the processor's findings, and the racewayotel library's
// metrics.
func emitted(t *testing.T) *stored {
	t.Helper()
	emittedOnce.Do(func() {
		s := newStored()
		for _, f := range []func(*stored) error{
			func(s *stored) error { return addTelemetry(s, processorMetadata) },
			func(s *stored) error { return addTelemetry(s, exporterMetadata) },
			addExporterOutput,
			addLibraryMetrics,
		} {
			if err := f(s); err != nil {
				emittedErr = err
				return
			}
		}
		emittedAll = s
	})
	if emittedErr != nil {
		t.Fatal(emittedErr)
	}
	return emittedAll
}

// metadata is the part of an mdatagen metadata.yaml that declares a
// component's own metrics.
type metadata struct {
	Attributes map[string]struct {
		Enum []string `yaml:"enum"`
	} `yaml:"attributes"`
	Telemetry struct {
		Metrics map[string]struct {
			Unit       string   `yaml:"unit"`
			Attributes []string `yaml:"attributes"`
			Sum        *struct {
				Monotonic bool `yaml:"monotonic"`
			} `yaml:"sum"`
			Gauge *struct{} `yaml:"gauge"`
		} `yaml:"metrics"`
	} `yaml:"telemetry"`
}

// addTelemetry records the component metrics a metadata.yaml declares.
// mdatagen names the instruments otelcol_<key>; their attributes carry the
// declared enum values.
func addTelemetry(s *stored, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var md metadata
	if err := yaml.Unmarshal(data, &md); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(md.Telemetry.Metrics) == 0 {
		return fmt.Errorf("%s declares no telemetry metrics", path)
	}
	for key, m := range md.Telemetry.Metrics {
		var typ otlptranslator.MetricType
		switch {
		case m.Sum != nil && m.Sum.Monotonic:
			typ = otlptranslator.MetricTypeMonotonicCounter
		case m.Sum != nil:
			typ = otlptranslator.MetricTypeNonMonotonicCounter
		case m.Gauge != nil:
			typ = otlptranslator.MetricTypeGauge
		default:
			return fmt.Errorf("%s: metric %s is neither a sum nor a gauge", path, key)
		}
		se := s.addSeries(path, "otelcol_"+key, m.Unit, typ)
		for _, a := range m.Attributes {
			attr, ok := md.Attributes[a]
			if !ok {
				return fmt.Errorf("%s: metric %s names undeclared attribute %s", path, key, a)
			}
			se.addLabel(a, attr.Enum...)
		}
	}
	return nil
}

// addExporterOutput runs the raceway exporter on the processor's golden
// findings, sending to a stock OTLP receiver in-process, and records the
// metrics and log records it sends.
func addExporterOutput(s *stored) error {
	td, err := golden.ReadTraces(findingsGolden)
	if err != nil {
		return err
	}
	ctx := context.Background()
	addr, err := stack.FreeAddr()
	if err != nil {
		return err
	}
	logs, metrics := new(consumertest.LogsSink), new(consumertest.MetricsSink)
	stop, err := startReceiver(ctx, addr, logs, metrics)
	if err != nil {
		return err
	}
	defer stop()

	f := racewayexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*racewayexporter.Config)
	cfg.Protocol = racewayexporter.ProtocolGRPC
	cfg.GRPC.ClientConfig.Endpoint = addr
	cfg.GRPC.ClientConfig.TLS.Insecure = true
	exp, err := f.CreateTraces(ctx, exportertest.NewNopSettings(f.Type()), cfg)
	if err != nil {
		return err
	}
	if err := exp.Start(ctx, componenttest.NewNopHost()); err != nil {
		return err
	}
	if err := exp.ConsumeTraces(ctx, td); err != nil {
		return err
	}
	if err := exp.Shutdown(ctx); err != nil { // drains the inner exporters' queues
		return err
	}
	if logs.LogRecordCount() == 0 || metrics.DataPointCount() == 0 {
		return fmt.Errorf("the raceway exporter sent %d log records and %d metric points for %s, want both", logs.LogRecordCount(), metrics.DataPointCount(), findingsGolden)
	}
	const from = "the raceway exporter's output for " + findingsGolden
	for _, ld := range logs.AllLogs() {
		s.addLogs(from, ld)
	}
	for _, md := range metrics.AllMetrics() {
		s.addMetrics(from, md)
	}
	return nil
}

// startReceiver starts the collector's OTLP receiver on addr (gRPC), handing
// what it receives to logs and metrics, and returns its stop function.
func startReceiver(ctx context.Context, addr string, logs consumer.Logs, metrics consumer.Metrics) (func(), error) {
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	cfg.Protocols.GRPC.GetOrInsertDefault().NetAddr.Endpoint = addr
	cfg.Protocols.HTTP = configoptional.None[otlpreceiver.HTTPConfig]()
	set := receivertest.NewNopSettings(f.Type())
	lr, err := f.CreateLogs(ctx, set, cfg, logs)
	if err != nil {
		return nil, err
	}
	mr, err := f.CreateMetrics(ctx, set, cfg, metrics)
	if err != nil {
		return nil, err
	}
	stop := func() { _ = lr.Shutdown(ctx); _ = mr.Shutdown(ctx) }
	for _, r := range []component.Component{lr, mr} {
		if err := r.Start(ctx, componenttest.NewNopHost()); err != nil {
			stop()
			return nil, err
		}
	}
	return stop, nil
}

// addLibraryMetrics collects the metrics of a racewayotel Tracker through a
// manual reader, as an application's OTLP metric exporter would send them.
func addLibraryMetrics(s *stored) error {
	reader := sdkmetric.NewManualReader()
	res := resource.NewSchemaless(attribute.String("service.name", "shop"))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(res))
	tp := sdktrace.NewTracerProvider()
	ctx := context.Background()
	defer func() { _ = mp.Shutdown(ctx); _ = tp.Shutdown(ctx) }()
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp), racewayotel.WithMeterProvider(mp))
	// Counters with attributes report only what happened: make it happen.
	rw.CountSkipped("postgresql", "unparsed")
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return err
	}
	md := pmetric.NewMetrics()
	sms := md.ResourceMetrics().AppendEmpty().ScopeMetrics()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			pm := sms.AppendEmpty().Metrics().AppendEmpty()
			pm.SetName(m.Name)
			pm.SetUnit(m.Unit)
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				sum := pm.SetEmptySum()
				sum.SetIsMonotonic(d.IsMonotonic)
				for _, p := range d.DataPoints {
					dp := sum.DataPoints().AppendEmpty()
					for _, kv := range p.Attributes.ToSlice() {
						dp.Attributes().PutStr(string(kv.Key), kv.Value.String())
					}
				}
			default:
				return fmt.Errorf("racewayotel metric %s is a %T, which this test does not translate yet", m.Name, m.Data)
			}
		}
	}
	if md.MetricCount() == 0 {
		return fmt.Errorf("racewayotel reported no metrics through its MeterProvider")
	}
	s.addMetrics("racewayotel (Tracker metrics)", md)
	return nil
}

// TestEmittedSignals pins what the other tests stand on: each source
// yields its signals (a parse that found nothing would make every query
// check vacuous).
func TestEmittedSignals(t *testing.T) {
	s := emitted(t)
	count := map[string]int{}
	for name, se := range s.series {
		src := se.from
		for _, p := range []string{processorMetadata, exporterMetadata, "the raceway exporter", "racewayotel"} {
			if len(src) >= len(p) && src[:len(p)] == p {
				count[p]++
			}
		}
		t.Logf("%-60s %s [%s]", name, se.from, names(se.labels))
	}
	for _, p := range []string{processorMetadata, exporterMetadata, "the raceway exporter", "racewayotel"} {
		if count[p] == 0 {
			t.Errorf("no metric from %s", p)
		}
	}
	if len(s.logs.stream) == 0 || len(s.logs.fields) == 0 {
		t.Errorf("no Loki stream labels or fields from the exporter's log records: %+v", s.logs)
	}
	keys := make([]string, 0, len(s.logs.fields))
	for k := range s.logs.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("Loki stream labels: %s", names(s.logs.stream))
	t.Logf("Loki fields: %v", keys)
}
