//go:build tools

// Package tools pins the Jaeger v2 binary used by Raceway's integration
// tests. It is never compiled into anything; it exists so that
// `go mod tidy` keeps github.com/jaegertracing/jaeger/cmd/jaeger and all of
// its dependencies in this module's go.mod and go.sum.
package tools

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
