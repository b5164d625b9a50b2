package racewayexporter

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	grpcmd "google.golang.org/grpc/metadata"

	"github.com/raceway-otel/raceway/exporter/racewayexporter/internal/metadata"
	"github.com/raceway-otel/raceway/internal/collectortest"
)

// tokenAuth is a client auth extension (extensionauth.GRPCClient) that adds a
// bearer token, standing in for bearertokenauth or oauth2client.
type tokenAuth struct{ token string }

func (tokenAuth) Start(context.Context, component.Host) error { return nil }
func (tokenAuth) Shutdown(context.Context) error              { return nil }
func (a tokenAuth) PerRPCCredentials() (credentials.PerRPCCredentials, error) {
	return a, nil
}

func (a tokenAuth) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + a.token}, nil
}
func (tokenAuth) RequireTransportSecurity() bool { return false }

type authHost struct {
	ext map[component.ID]component.Component
}

func (h authHost) GetExtensions() map[component.ID]component.Component { return h.ext }

// The host is passed through to the inner otlp_grpc exporter, so that its
// `auth:` setting finds the collector's auth extensions.
func TestInnerExporterUsesHostAuth(t *testing.T) {
	var (
		mu    sync.Mutex
		auths []string
	)
	sink := collectortest.StartSink(t, "", nil, grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := grpcmd.FromIncomingContext(ctx)
		mu.Lock()
		auths = append(auths, md.Get("authorization")...)
		mu.Unlock()
		return handler(ctx, req)
	}))

	authID := component.MustNewIDWithName("bearertokenauth", "backend")
	cfg := createDefaultConfig()
	cfg.GRPC.ClientConfig.Endpoint = sink.Addr()
	cfg.GRPC.ClientConfig.TLS.Insecure = true
	cfg.GRPC.ClientConfig.Auth = configoptional.Some(configauth.Config{AuthenticatorID: authID})

	ctx := context.Background()
	exp, err := NewFactory().CreateTraces(ctx, exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	host := authHost{ext: map[component.ID]component.Component{authID: tokenAuth{token: "s3cret"}}}
	require.NoError(t, exp.Start(ctx, host))
	require.NoError(t, exp.ConsumeTraces(ctx, findingTraces("write/write", "error", 1)))
	require.NoError(t, exp.Shutdown(ctx))

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, auths, 2, "one logs and one metrics export")
	for _, a := range auths {
		assert.Equal(t, "Bearer s3cret", a)
	}

	// Without the extension in the host, start fails as otlp_grpc's would.
	exp, err = NewFactory().CreateTraces(ctx, exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = exp.Start(ctx, authHost{ext: map[component.ID]component.Component{}})
	assert.ErrorContains(t, err, "bearertokenauth/backend")
	require.NoError(t, exp.Shutdown(ctx))
}
