'use strict';
// OpenTelemetry set up the way an existing Node.js service has it, with the
// stock OpenTelemetry JS packages only: a NodeTracerProvider exporting
// OTLP/HTTP, W3C trace context and baggage propagation, and the HTTP
// instrumentation (server and client spans, context extraction and
// injection). Require this module before node:http, so that the
// instrumentation can patch it.

const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');

registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });

const { trace } = require('@opentelemetry/api');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BatchSpanProcessor, NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');

const { Raceway, randomId } = require('./raceway');

// start sets up telemetry for service and returns its tracer, its Raceway
// helper and shutdown, which flushes what is left and reports what was
// exported and dropped on stderr. Spans go to OTEL_EXPORTER_OTLP_ENDPOINT
// (default http://127.0.0.1:4318), normally otelcol-raceway.
function start(service) {
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT || 'http://127.0.0.1:4318';
  const exporter = new OTLPTraceExporter({ url: endpoint.replace(/\/$/, '') + '/v1/traces' });
  const counts = { exported: 0, dropped: 0 };
  const exportSpans = exporter.export.bind(exporter);
  exporter.export = (spans, done) =>
    exportSpans(spans, (result) => {
      counts[result.code === 0 ? 'exported' : 'dropped'] += spans.length;
      done(result);
    });
  // One identity per process: the helper writes it in raceway.process.id,
  // and the resource carries it as service.instance.id.
  const processId = randomId();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'service.instance.id': processId }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 200 })],
  });
  provider.register(); // AsyncLocalStorage context, W3C trace context + baggage
  const tracer = trace.getTracer('raceway-node-example');
  const rw = new Raceway({ tracer, processId });
  async function shutdown() {
    try {
      await provider.shutdown();
    } catch (err) {
      process.stderr.write(`${service} telemetry: flushing spans: ${err.message}\n`);
    }
    const s = rw.stats;
    process.stderr.write(
      `${service} telemetry: ${counts.exported} spans exported, ${counts.dropped} dropped; ` +
        `raceway records ${s.records}, lost ${s.lost}, orphan spans ${s.orphans}, overflow spans ${s.overflows}, ` +
        `clocks dropped ${s.clocksDropped}\n`,
    );
  }
  return { tracer, rw, shutdown };
}

module.exports = { start };
