// One service's telemetry: a tracer, a meter and the places they send to,
// in one of two modes.
//
//   "process" (runService, i.e. every service's main.ts): the service owns
//   its process, so telemetry is @opentelemetry/sdk-node's NodeSDK, which
//   registers the global tracer, meter and context manager, detects the
//   resource (process, host, service.instance.id) and runs the
//   instrumentations below, so code added to a service that uses the
//   OpenTelemetry API or makes HTTP calls is traced like the rest.
//   "embedded" (startService, the default; tests run several services in one
//   process, each with its own service.name, environment and metrics port):
//   the service's own TracerProvider and MeterProvider, not the global ones,
//   and no instrumentations (they patch process-wide modules).
//
// Either way the runtime hands its tracer to its interceptors, hooks and
// database wrapper explicitly, and RPC spans come from the Connect
// interceptors (rpc-server-telemetry.ts, rpc-client-telemetry.ts: span names,
// rpc.* attributes, status codes), not from an HTTP instrumentation; the
// context manager is process-wide in both modes (see trace-context.ts).
//
// Tracing is on when an OTLP endpoint is configured. Without one the tracer
// is the API's no-op tracer: no span objects recorded, no exporter, no
// batching timer; incoming trace context is still passed on.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { fromBinary } from "@bufbuild/protobuf";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { createNoopMeter, metrics, ProxyTracer, trace, type Meter, type Tracer } from "@opentelemetry/api";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { UndiciInstrumentation } from "@opentelemetry/instrumentation-undici";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TracerProvider } from "@opentelemetry/sdk-trace";
import type { Logger } from "../log.ts";
import { contextManagerForSdk, installContextManager, propagator } from "./trace-context.ts";
import { installEventTraceHeaders } from "./event-trace-headers.ts";
import { serveMetrics, type MetricsEndpoint } from "./metrics-endpoint.ts";
import { ATTR_SERVICE_NAME } from "./semconv.ts";
import type { TelemetrySettings } from "./settings.ts";

const SCOPE = "@shop/runtime";

/** See the top of this file. */
export type TelemetryMode = "process" | "embedded";

/** An event as the relay published it. */
export interface PublishedEvent {
  eventType: string;
  payload: Uint8Array;
}

export class ServiceTelemetry {
  readonly serviceName: string;
  /** Records and exports spans (false: the no-op tracer, context passed through). */
  readonly tracing: boolean;
  readonly tracer: Tracer;
  /** The service's meter; a no-op meter when metrics are disabled. */
  readonly meter: Meter;
  readonly #settings: TelemetrySettings;
  readonly #logger: Logger;
  /** Embedded mode: the service's own providers. */
  readonly #tracerProvider: TracerProvider | undefined;
  readonly #meterProvider: MeterProvider | undefined;
  /** Process mode: the NodeSDK, which owns the (global) providers. */
  readonly #sdk: NodeSDK | undefined;
  readonly #prometheus: PrometheusExporter | undefined;
  readonly #publishedListeners = new Map<string, { schema: DescMessage; listeners: ((event: never) => void)[] }>();
  #endpoint: MetricsEndpoint | undefined;

  /**
   * `mode` "process" only in a process that runs this one service: it
   * installs global providers. With OTEL_SDK_DISABLED there is no SDK, and
   * the service falls back to embedded mode (no spans, /metrics still served).
   */
  constructor(settings: TelemetrySettings, logger: Logger, mode: TelemetryMode = "embedded") {
    installEventTraceHeaders();
    this.serviceName = settings.serviceName;
    this.#settings = settings;
    this.#logger = logger;
    const resource = serviceResource(settings);
    const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
    const spanProcessor = () =>
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: settings.tracesUrl }),
        scheduledDelayMillis: settings.batchDelayMs,
      });
    if (settings.metricsPort !== 0) {
      // Served by metrics-endpoint.ts; scope labels on every series are noise.
      this.#prometheus = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
    }
    this.tracing = settings.tracesUrl !== undefined;

    if (mode === "process" && !settings.sdkDisabled) {
      this.#sdk = new NodeSDK({
        resource,
        contextManager: contextManagerForSdk(),
        textMapPropagator: propagator,
        sampler,
        // Empty lists: none of it (rather than what OTEL_TRACES_EXPORTER and
        // OTEL_METRICS_EXPORTER would choose); logs are pino's JSON lines on stdout.
        spanProcessors: this.tracing ? [spanProcessor()] : [],
        metricReaders: this.#prometheus ? [this.#prometheus] : [],
        logRecordProcessors: [],
        instrumentations: processInstrumentations(),
      });
      this.#sdk.start();
      patchLoadedBuiltins();
      this.tracer = trace.getTracer(SCOPE);
      this.meter = this.#prometheus ? metrics.getMeter(SCOPE) : createNoopMeter();
      return;
    }

    installContextManager();
    if (this.tracing) {
      this.#tracerProvider = new TracerProvider({ resource, sampler, spanProcessors: [spanProcessor()] });
      this.tracer = this.#tracerProvider.getTracer(SCOPE);
    } else {
      // A proxy that never gets a delegate is the API's no-op tracer.
      this.tracer = new ProxyTracer({ getDelegateTracer: () => undefined }, SCOPE);
    }
    if (this.#prometheus) {
      this.#meterProvider = new MeterProvider({ resource, readers: [this.#prometheus] });
      this.meter = this.#meterProvider.getMeter(SCOPE);
    } else {
      this.meter = createNoopMeter();
    }
  }

  /** Port of the running metrics endpoint, if any. */
  get metricsPort(): number | undefined {
    return this.#endpoint?.port;
  }

  /** Starts the Prometheus endpoint (no-op when disabled). */
  async startMetricsEndpoint(): Promise<void> {
    if (!this.#prometheus || this.#endpoint) return;
    this.#endpoint = await serveMetrics(this.#prometheus, {
      host: this.#settings.metricsHost,
      port: this.#settings.metricsPort,
      logger: this.#logger,
    });
  }

  async stopMetricsEndpoint(): Promise<void> {
    await this.#endpoint?.stop();
    this.#endpoint = undefined;
  }

  /**
   * Calls `listener` with every event of this type the outbox relay
   * published: after its transaction committed and JetStream acked it, so
   * domain metrics derived from events (orders by outcome) count facts, not
   * attempts.
   */
  onEventPublished<Desc extends DescMessage>(schema: Desc, listener: (event: MessageShape<Desc>) => void): void {
    let entry = this.#publishedListeners.get(schema.typeName);
    if (!entry) this.#publishedListeners.set(schema.typeName, (entry = { schema, listeners: [] }));
    entry.listeners.push(listener);
  }

  /** The relay hook reports each published event here. */
  eventPublished(event: PublishedEvent): void {
    const entry = this.#publishedListeners.get(event.eventType);
    if (!entry) return;
    try {
      const message = fromBinary(entry.schema, event.payload);
      for (const listener of entry.listeners) listener(message as never);
    } catch (err) {
      this.#logger.warn({ err, eventType: event.eventType }, "published-event listener failed");
    }
  }

  /** Flushes and stops span export and metrics (last, after everything that makes spans). */
  async shutdown(): Promise<void> {
    await this.stopMetricsEndpoint();
    await Promise.all([
      this.#sdk?.shutdown().catch((err: unknown) => this.#logger.warn({ err }, "telemetry shutdown failed")),
      this.#tracerProvider
        ?.shutdown()
        .catch((err: unknown) => this.#logger.warn({ err }, "span export shutdown failed")),
      this.#meterProvider?.shutdown().catch((err: unknown) => this.#logger.warn({ err }, "metrics shutdown failed")),
    ]);
  }
}

/**
 * What a service process instruments beyond its RPCs, events and queries:
 * outgoing HTTP through node:http/https and through fetch (undici), as CLIENT
 * spans carrying the trace and routing headers. Incoming HTTP is not traced
 * by the instrumentation: the Connect interceptors make the RPC server spans,
 * and health, reflection and /metrics are not traced at all. HTTP/2 (every
 * Connect client and server here) has no instrumentation. Postgres queries
 * are traced by db-query-spans.ts in both modes: instrumentation-pg fits
 * node-postgres, not postgres.js, and the one postgres.js instrumentation on
 * npm (otel-instrumentation-postgres 1.0.0) is a single release built on
 * @opentelemetry/instrumentation 0.202.
 */
function processInstrumentations() {
  return [new HttpInstrumentation({ ignoreIncomingRequestHook: () => true }), new UndiciInstrumentation()];
}

/**
 * The http instrumentation patches node:http and node:https when they are
 * require()d, which an ES module never does, and this process imported them
 * long before telemetry started: require them now, so the shared module
 * objects get patched, and update the ES module bindings (`import { request }
 * from "node:http"`) to the patched functions.
 */
function patchLoadedBuiltins(): void {
  const require = createRequire(import.meta.url);
  require("node:http");
  require("node:https");
  syncBuiltinESMExports();
}

function serviceResource(settings: TelemetrySettings): Resource {
  return defaultResource().merge(
    resourceFromAttributes({ ...settings.resourceAttributes, [ATTR_SERVICE_NAME]: settings.serviceName }),
  );
}
