// Package convention holds the names of the span events, attributes,
// baggage member and header through which Raceway data travels in
// OpenTelemetry. The library (racewayotel) writes them and the collector
// processor reads them; any OTel SDK in any language that writes them the
// same way is a Raceway source. docs/semconv.md is the prose version.
//
// The package has no dependencies, so the collector can import it without
// the library's.
package convention
