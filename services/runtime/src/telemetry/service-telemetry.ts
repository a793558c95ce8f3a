// One service's telemetry: a tracer, a meter and the places they send to.
//
// Each service gets its own TracerProvider and MeterProvider (not the global
// ones, and not @opentelemetry/sdk-node's NodeSDK, which installs globals
// from process.env): tests run several services in one process, each with
// its own service.name, environment and metrics port. Only the context
// manager is process-wide (see trace-context.ts); the runtime hands the
// tracer to its interceptors, hooks and database wrapper explicitly.
//
// Tracing is on when an OTLP endpoint is configured. Without one the tracer
// is the API's no-op tracer: no span objects recorded, no exporter, no
// batching timer; incoming trace context is still passed on.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { fromBinary } from "@bufbuild/protobuf";
import { createNoopMeter, ProxyTracer, type Meter, type Tracer } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TracerProvider } from "@opentelemetry/sdk-trace";
import type { Logger } from "../log.ts";
import { installContextManager } from "./trace-context.ts";
import { installEventTraceHeaders } from "./event-trace-headers.ts";
import { serveMetrics, type MetricsEndpoint } from "./metrics-endpoint.ts";
import { ATTR_SERVICE_NAME } from "./semconv.ts";
import type { TelemetrySettings } from "./settings.ts";

const SCOPE = "@shop/runtime";

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
  readonly #tracerProvider: TracerProvider | undefined;
  readonly #meterProvider: MeterProvider | undefined;
  readonly #prometheus: PrometheusExporter | undefined;
  readonly #publishedListeners = new Map<string, { schema: DescMessage; listeners: ((event: never) => void)[] }>();
  #endpoint: MetricsEndpoint | undefined;

  constructor(settings: TelemetrySettings, logger: Logger) {
    installContextManager();
    installEventTraceHeaders();
    this.serviceName = settings.serviceName;
    this.#settings = settings;
    this.#logger = logger;
    const resource = serviceResource(settings);

    if (settings.tracesUrl) {
      this.#tracerProvider = new TracerProvider({
        resource,
        sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
        spanProcessors: [
          new BatchSpanProcessor({
            exporter: new OTLPTraceExporter({ url: settings.tracesUrl }),
            scheduledDelayMillis: settings.batchDelayMs,
          }),
        ],
      });
      this.tracer = this.#tracerProvider.getTracer(SCOPE);
    } else {
      // A proxy that never gets a delegate is the API's no-op tracer.
      this.tracer = new ProxyTracer({ getDelegateTracer: () => undefined }, SCOPE);
    }
    this.tracing = this.#tracerProvider !== undefined;

    if (settings.metricsPort !== 0) {
      // Served by metrics-endpoint.ts; scope labels on every series are noise.
      this.#prometheus = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
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
      this.#tracerProvider
        ?.shutdown()
        .catch((err: unknown) => this.#logger.warn({ err }, "span export shutdown failed")),
      this.#meterProvider?.shutdown().catch((err: unknown) => this.#logger.warn({ err }, "metrics shutdown failed")),
    ]);
  }
}

function serviceResource(settings: TelemetrySettings): Resource {
  return defaultResource().merge(
    resourceFromAttributes({ ...settings.resourceAttributes, [ATTR_SERVICE_NAME]: settings.serviceName }),
  );
}
