// Waits until services report SERVING on grpc.health.v1.Health/Check, asked
// over gRPC on h2c exactly as Kubernetes probes and the mesh will ask.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@shop/runtime/grpc-gen/grpc/health/v1/health_pb";
import { abortable, sleep } from "./child.ts";

export interface HealthTarget {
  name: string;
  /** Base URL, e.g. http://127.0.0.1:7004. */
  address: string;
}

/**
 * Polls every target until it is SERVING. Resolves with the time each became
 * healthy (ms after the call); on timeout rejects with HealthTimeoutError
 * listing those that are not, with the last answer each gave. Aborting
 * `signal` (e.g. a child died) rejects with its reason.
 */
export async function waitForHealthy(
  targets: readonly HealthTarget[],
  options: {
    timeoutMs: number;
    signal?: AbortSignal;
    intervalMs?: number;
    onHealthy?: (name: string, ms: number) => void;
  },
): Promise<Map<string, number>> {
  const started = performance.now();
  const deadline = started + options.timeoutMs;
  const healthyAfter = new Map<string, number>();
  const lastAnswer = new Map<string, string>(targets.map((t) => [t.name, "not checked yet"]));
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;

  const poll = async (target: HealthTarget) => {
    // One connection per target for the whole wait.
    const sessionManager = new Http2SessionManager(target.address);
    const client = createClient(Health, createGrpcTransport({ baseUrl: target.address, sessionManager }));
    try {
      while (!signal.aborted) {
        const answer = await client
          .check({ service: "" }, { timeoutMs: 1_000, signal })
          // An open enum: a status this build does not know has no name.
          .then((response) => (ServingStatus[response.status] as string | undefined) ?? String(response.status))
          .catch((error: unknown) => (error as Error).message);
        // Aborted while the check ran (the loop's narrowing cannot see that).
        if (signal.aborted as boolean) return;
        lastAnswer.set(target.name, answer);
        if (answer === "SERVING") {
          const ms = performance.now() - started;
          healthyAfter.set(target.name, ms);
          options.onHealthy?.(target.name, ms);
          return;
        }
        if (performance.now() >= deadline) return;
        await sleep(options.intervalMs ?? 200, signal).catch(() => {});
      }
    } finally {
      sessionManager.abort();
    }
  };

  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.timeoutMs)));
    await abortable(Promise.race([Promise.all(targets.map(poll)), timedOut]), options.signal);
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
  const unhealthy = targets.filter((t) => !healthyAfter.has(t.name));
  if (unhealthy.length > 0) {
    throw new HealthTimeoutError(
      options.timeoutMs,
      unhealthy.map((t) => ({ ...t, lastAnswer: lastAnswer.get(t.name) ?? "not checked yet" })),
    );
  }
  return healthyAfter;
}

export class HealthTimeoutError extends Error {
  override name = "HealthTimeoutError";
  constructor(
    readonly timeoutMs: number,
    readonly unhealthy: readonly (HealthTarget & { lastAnswer: string })[],
    /** Services of later start-up waves, never started because these did not become healthy. */
    readonly notStarted: readonly string[] = [],
  ) {
    super(
      `not healthy after ${Math.round(timeoutMs / 1000)} s: ` +
        unhealthy.map((t) => `${t.name} at ${t.address} (last answer: ${t.lastAnswer})`).join("; ") +
        (notStarted.length > 0 ? `; not started: ${notStarted.join(", ")}` : ""),
    );
  }
}
