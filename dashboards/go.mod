module github.com/raceway-otel/raceway/dashboards

go 1.26.0

replace (
	github.com/raceway-otel/raceway => ../
	github.com/raceway-otel/raceway/exporter/racewayexporter => ../exporter/racewayexporter
)

require github.com/grafana/grafana-foundation-sdk/go v0.0.22 // indirect
