package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadata"
)

// NewFactory returns the factory of the raceway processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTracesProcessor, metadata.TracesStability),
	)
}

func createTracesProcessor(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	c := cfg.(*Config)
	if c.mode() == ModeShard {
		return newShardProcessor(set, c, next)
	}
	return newProcessor(set, c, next)
}
