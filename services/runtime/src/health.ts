// grpc.health.v1.Health for every service: a small registry of serving
// statuses plus the Connect implementation of Check, Watch and List.
//
// Why our own: connect-es ships no health service (connectrpc/connect-es#797)
// and grpc-health-check is bound to @grpc/grpc-js servers. Kubernetes gRPC
// probes and Istio use Check; Watch lets clients react to a drain without polling.
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "./grpc-gen/grpc/health/v1/health_pb.ts";

export { ServingStatus };

/** The status of the server as a whole, by gRPC convention. */
export const OVERALL = "";

type Listener = (status: ServingStatus) => void;

export class HealthRegistry {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #closed = new AbortController();

  constructor(services: Iterable<string> = [], initial: ServingStatus = ServingStatus.SERVING) {
    this.set(OVERALL, initial);
    for (const service of services) this.set(service, initial);
  }

  /** Status of a service, or undefined if it is not registered. */
  get(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  set(service: string, status: ServingStatus): void {
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    for (const listener of this.#listeners.get(service) ?? []) listener(status);
  }

  /** Sets the overall status and every registered service's, e.g. on drain. */
  setAll(status: ServingStatus): void {
    for (const service of [...this.#statuses.keys()]) this.set(service, status);
  }

  entries(): [string, ServingStatus][] {
    return [...this.#statuses];
  }

  /**
   * Yields the current status (SERVICE_UNKNOWN if not registered) and then
   * every change, until `signal` aborts or close() is called. Intermediate
   * states are coalesced: a slow reader always sees the latest status.
   */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<ServingStatus> {
    let last: ServingStatus | undefined;
    let wake: (() => void) | undefined;
    const listener: Listener = () => wake?.();
    const stop = AbortSignal.any([signal, this.#closed.signal]);
    const listeners = this.#listeners.get(service) ?? new Set();
    this.#listeners.set(service, listeners);
    listeners.add(listener);
    const onStop = () => wake?.();
    stop.addEventListener("abort", onStop);
    try {
      for (;;) {
        const current = this.#statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
        if (current !== last) {
          last = current;
          yield current;
          continue;
        }
        // Checked after the status, so a drain's NOT_SERVING is still sent
        // before close() ends the stream.
        if (stop.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      listeners.delete(listener);
      if (listeners.size === 0) this.#listeners.delete(service);
      stop.removeEventListener("abort", onStop);
    }
  }

  /** Ends every Watch stream; used by graceful shutdown. */
  close(): void {
    this.#closed.abort();
  }
}

export function createHealthService(registry: HealthRegistry): ServiceImpl<typeof Health> {
  return {
    check(req) {
      const status = registry.get(req.service);
      if (status === undefined) throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
      return { status };
    },
    async *watch(req, ctx) {
      for await (const status of registry.watch(req.service, ctx.signal)) yield { status };
    },
    list() {
      return { statuses: Object.fromEntries(registry.entries().map(([name, status]) => [name, { status }])) };
    },
  };
}

export { Health };
