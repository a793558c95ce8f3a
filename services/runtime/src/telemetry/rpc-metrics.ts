// RED metrics per RPC method: requests by method and code, and a duration
// histogram (its _count is the same requests, so either serves for rates).
//
// Names: Prometheus' spelling of the OpenTelemetry RPC instruments
// (rpc.server.call.duration in seconds → rpc_server_call_duration_seconds);
// the Prometheus exporter adds `_total` to counters but no unit suffix, so
// the unit is part of the instrument name here.
import type { Attributes, Counter, Histogram, Meter } from "@opentelemetry/api";

/** Seconds; the OpenTelemetry RPC conventions' recommended boundaries. */
export const RPC_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

export class RpcMetrics {
  readonly #requests: Counter;
  readonly #duration: Histogram;

  constructor(meter: Meter, side: "server" | "client") {
    this.#requests = meter.createCounter(`rpc.${side}.requests`, {
      description: `RPCs ${side === "server" ? "served" : "made"}, by method and status code`,
    });
    this.#duration = meter.createHistogram(`rpc.${side}.call.duration.seconds`, {
      description: `Duration of RPCs ${side === "server" ? "served" : "made"} (streams: until the stream ends)`,
      unit: "s",
      advice: { explicitBucketBoundaries: RPC_DURATION_BUCKETS },
    });
  }

  /** `attributes`: rpc.system, rpc.service, rpc.method, rpc.response.status_code. */
  record(attributes: Attributes, seconds: number): void {
    this.#requests.add(1, attributes);
    this.#duration.record(seconds, attributes);
  }
}
