// Package collectortest is the test support that the collector-side modules
// (the raceway processor and exporter, the end-to-end tests) share: Raceway
// records written onto pdata spans ([AddRecord]) and an in-process
// OTLP/gRPC backend that counts and keeps what it receives ([Sink],
// [StartSink]).
//
// It is a module of its own so that the repository's root module, which
// applications import, never depends on the OpenTelemetry Collector's
// modules. Being internal, it is importable only from within
// github.com/raceway-otel/raceway.
package collectortest
