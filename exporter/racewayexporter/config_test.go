package racewayexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/raceway-otel/raceway/exporter/racewayexporter/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg.(*Config)
}

func TestConfigDefaults(t *testing.T) {
	cfg := loadConfig(t, "")
	assert.Equal(t, ProtocolGRPC, cfg.Protocol)
	require.NotNil(t, cfg.GRPC)
	assert.Nil(t, cfg.HTTP)
	assert.True(t, cfg.Logs)
	assert.True(t, cfg.Metrics)
	assert.Equal(t, defaultMaxSeries, cfg.MaxSeries)
	assert.Equal(t, 15*time.Second, cfg.MetricsInterval)
	// the inner exporter's own defaults apply
	assert.Equal(t, configcompression.TypeGzip, cfg.GRPC.ClientConfig.Compression)
	assert.True(t, cfg.GRPC.QueueConfig.HasValue())
	assert.True(t, cfg.GRPC.RetryConfig.Enabled)
	// ... and the otlp_grpc exporter wants an endpoint
	assert.ErrorContains(t, confmap.Validate(cfg), "endpoint")
}

func TestConfigGRPC(t *testing.T) {
	cfg := loadConfig(t, "grpc")
	require.NoError(t, confmap.Validate(cfg))
	require.NotNil(t, cfg.GRPC)
	assert.Nil(t, cfg.HTTP)
	assert.Equal(t, "127.0.0.1:4317", cfg.GRPC.ClientConfig.Endpoint)
	assert.True(t, cfg.GRPC.ClientConfig.TLS.Insecure)
	tenant, ok := cfg.GRPC.ClientConfig.Headers.Get("x-tenant")
	assert.True(t, ok)
	assert.Equal(t, "team-a", string(tenant))
	require.True(t, cfg.GRPC.QueueConfig.HasValue())
	assert.EqualValues(t, 100, cfg.GRPC.QueueConfig.Get().QueueSize)
	// untouched defaults survive
	assert.Equal(t, configcompression.TypeGzip, cfg.GRPC.ClientConfig.Compression)
	assert.Equal(t, 50, cfg.MaxSeries)
	assert.Equal(t, time.Minute, cfg.MetricsInterval)
}

func TestConfigHTTP(t *testing.T) {
	cfg := loadConfig(t, "http")
	require.NoError(t, confmap.Validate(cfg))
	assert.Nil(t, cfg.GRPC)
	require.NotNil(t, cfg.HTTP)
	assert.Equal(t, "http://127.0.0.1:4318", cfg.HTTP.ClientConfig.Endpoint)
	assert.Equal(t, configcompression.Type("none"), cfg.HTTP.ClientConfig.Compression)
	assert.True(t, cfg.HTTP.QueueConfig.HasValue(), "otlp_http defaults apply")
	assert.False(t, cfg.Metrics)

	// the section of the protocol not chosen is dropped, not validated
	both := loadConfig(t, "both_sections")
	require.NoError(t, confmap.Validate(both))
	assert.Nil(t, both.GRPC)
}

func TestConfigFileOnly(t *testing.T) {
	cfg := loadConfig(t, "file_only")
	require.NoError(t, confmap.Validate(cfg))
	assert.Nil(t, cfg.GRPC)
	assert.Nil(t, cfg.HTTP)
	assert.Equal(t, "/tmp/findings.jsonl", cfg.File.Path)
	assert.EqualValues(t, defaultFileMaxBytes, cfg.File.MaxBytes)
}

func TestConfigInvalid(t *testing.T) {
	for name, want := range map[string]string{
		"bad_protocol":     "carrier-pigeon",
		"grpc_no_endpoint": "endpoint",
		"none_no_file":     "file.path",
	} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorContains(t, confmap.Validate(loadConfig(t, name)), want)
		})
	}
	cfg := createDefaultConfig()
	cfg.GRPC.ClientConfig.Endpoint = "127.0.0.1:4317"
	cfg.Logs, cfg.Metrics = false, false
	assert.ErrorContains(t, cfg.Validate(), "nothing to send")
	cfg.Logs, cfg.MaxSeries = true, 0
	assert.ErrorContains(t, cfg.Validate(), "max_series")
	cfg.Metrics, cfg.MaxSeries, cfg.MetricsInterval = true, 10, 0
	assert.ErrorContains(t, cfg.Validate(), "metrics_interval")
	cfg.Metrics = false // no counters sent: the interval is not used
	assert.NoError(t, cfg.Validate())
}
