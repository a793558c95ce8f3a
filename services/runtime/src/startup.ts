// Start-up against dependencies that may not be there yet (Postgres still
// starting or restarting, NATS not up): wait with backoff, as a pod does
// under Kubernetes, and give up with one line that names the variable and the
// address, never a driver's stack trace.
import type { Logger } from "pino";
import { ConfigError } from "./config.ts";
import { isOutage, outageReason } from "./outages.ts";

export { STARTUP_PROBLEM_EXIT_CODE, STARTUP_PROBLEM_PREFIX } from "./startup-exit.ts";

/** A reason a service cannot start that the operator can fix; its message is one line. */
export class StartupProblem extends Error {
  override name = "StartupProblem";
}

export interface WaitOptions {
  /** Give up after this long; default STARTUP_WAIT_MS from the environment, else 30 s. */
  timeoutMs?: number;
  logger?: Pick<Logger, "warn">;
}

/** How long start-up waits for the database and the broker: STARTUP_WAIT_MS, default 30 s. */
export function startupWaitMs(env: Record<string, string | undefined>): number {
  const raw = env.STARTUP_WAIT_MS;
  const ms = raw === undefined || raw === "" ? 30_000 : Number(raw);
  if (!Number.isInteger(ms) || ms < 0)
    throw new ConfigError([`STARTUP_WAIT_MS must be a whole number of milliseconds (got ${JSON.stringify(raw)})`]);
  return ms;
}

/**
 * Runs `attempt` until it succeeds, retrying outages (see outages.ts) with
 * backoff from 250 ms doubling to 5 s; other errors, and an outage that
 * outlasts the timeout, end it. `what` names the dependency for the final
 * message, e.g. `DATABASE_URL (postgres://shop@127.0.0.1:54329/shop_order)`.
 */
export async function waitForDependency<T>(
  what: string,
  attempt: () => Promise<T>,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const giveUpAt = performance.now() + timeoutMs;
  for (let delay = 250, tries = 1; ; tries++, delay = Math.min(delay * 2, 5_000)) {
    try {
      return await attempt();
    } catch (error) {
      if (!isOutage(error)) throw error;
      if (performance.now() + delay > giveUpAt) {
        throw new StartupProblem(
          `${what} is unreachable (${outageReason(error)}); waited ${String(Math.round(timeoutMs / 1000))} s`,
          { cause: error },
        );
      }
      options.logger?.warn({ dependency: what, tries, reason: outageReason(error) }, "waiting for a dependency");
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** The operator-facing lines for a start-up failure: one per problem. */
export function startupProblemLines(error: unknown): string[] {
  if (error instanceof ConfigError) return error.problems;
  if (error instanceof StartupProblem) return [error.message];
  const code = (error as { code?: unknown }).code;
  if (code === "EADDRINUSE" || code === "EACCES") {
    const { address, port } = error as { address?: string; port?: number };
    const where = `${port === undefined ? "" : `${String(port)} `}on ${address ?? "its host"}`;
    return [`PORT ${where} ${code === "EADDRINUSE" ? "is already in use" : "may not be bound"} (${code})`];
  }
  if (isOutage(error)) return [`a dependency is unreachable: ${outageReason(error)}`];
  return [error instanceof Error ? error.message : String(error)];
}
