// Package proc starts and stops the child processes of the project's tests
// and demo (the collector, Jaeger, the example services) and keeps the tail
// of their output for error messages. It uses only the standard library.
package proc
