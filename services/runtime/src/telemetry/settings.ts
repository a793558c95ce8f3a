// What a service's telemetry reads from its environment:
//
//   OTEL_EXPORTER_OTLP_ENDPOINT        e.g. http://otel-collector:4318: export spans
//                                      (OTLP/HTTP protobuf, to <endpoint>/v1/traces).
//                                      Unset: no exporter, no span recorded; trace
//                                      context is still passed on.
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT the full traces URL instead (wins).
//   OTEL_SDK_DISABLED=true             export nothing even with an endpoint.
//   OTEL_SERVICE_NAME                  default: the manifest's name.
//   OTEL_RESOURCE_ATTRIBUTES           k=v,k=v added to the resource (service.version...).
//   OTEL_BSP_SCHEDULE_DELAY            ms between span batches; default 5000.
//   METRICS_PORT                       Prometheus /metrics; default PORT + 1000; 0 disables.
import { z } from "zod";
import { env, loadConfig } from "../config.ts";
import { defaultMetricsPort } from "../manifest.ts";

export interface TelemetrySettings {
  serviceName: string;
  /** Where spans go; undefined = tracing off (no exporter, no recording). */
  tracesUrl: string | undefined;
  /** OTEL_SDK_DISABLED: no SDK (and so no instrumentations) in process mode; metrics are still served. */
  sdkDisabled: boolean;
  batchDelayMs: number;
  resourceAttributes: Record<string, string>;
  /** 0 = no metrics endpoint. */
  metricsPort: number;
  metricsHost: string;
}

export function telemetrySettings(
  source: Record<string, string | undefined>,
  service: { name: string; port: number; host: string },
): TelemetrySettings {
  const config = loadConfig(
    z.object({
      OTEL_EXPORTER_OTLP_ENDPOINT: env.url(""),
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: env.url(""),
      OTEL_SDK_DISABLED: env.bool(false),
      OTEL_SERVICE_NAME: env.string(""),
      OTEL_RESOURCE_ATTRIBUTES: env.string(""),
      OTEL_BSP_SCHEDULE_DELAY: env.int({ min: 1, max: 600_000, default: 5000 }),
      METRICS_PORT: env.int({ min: 0, max: 65535, default: defaultMetricsPort(service.port) }),
    }),
    source,
  );
  const endpoint = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  const tracesUrl =
    config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || (endpoint ? `${endpoint.replace(/\/+$/, "")}/v1/traces` : undefined);
  return {
    serviceName: config.OTEL_SERVICE_NAME || service.name,
    tracesUrl: config.OTEL_SDK_DISABLED ? undefined : tracesUrl,
    sdkDisabled: config.OTEL_SDK_DISABLED,
    batchDelayMs: config.OTEL_BSP_SCHEDULE_DELAY,
    resourceAttributes: parseResourceAttributes(config.OTEL_RESOURCE_ATTRIBUTES),
    metricsPort: config.METRICS_PORT,
    metricsHost: service.host,
  };
}

/** `service.version=v1,service.namespace=shop` (values percent-encoded, per the spec). */
function parseResourceAttributes(raw: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of raw.split(",")) {
    const i = pair.indexOf("=");
    if (i <= 0) continue;
    const key = pair.slice(0, i).trim();
    const value = pair.slice(i + 1).trim();
    try {
      attributes[key] = decodeURIComponent(value);
    } catch {
      attributes[key] = value;
    }
  }
  return attributes;
}
