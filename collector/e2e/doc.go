// Package e2e holds the end-to-end tests of otelcol-raceway: they build the
// collector with ocb from the repository's builder-config.yaml (when the
// binary is missing or older than its sources), start it on loopback with the
// checked-in demo configuration, send OTLP spans carrying Raceway records and
// check what reaches a local OTLP sink. It also checks that an application
// importing racewayotel does not pull the collector into its module graph.
package e2e
