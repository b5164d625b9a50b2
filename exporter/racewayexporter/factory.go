package racewayexporter // import "github.com/raceway-otel/raceway/exporter/racewayexporter"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/raceway-otel/raceway/exporter/racewayexporter/internal/metadata"
)

var scopeName = metadata.ScopeName

// NewFactory returns the factory of the raceway exporter (type "raceway").
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig() },
		exporter.WithTraces(createTraces, metadata.TracesStability),
	)
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	e, err := newRacewayExporter(ctx, set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return exporterhelper.NewTraces(ctx, set, cfg, e.pushTraces,
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		// The inner OTLP exporters have their own timeout, queue and retry.
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{}),
	)
}
