// SIGTERM/SIGINT handling for a service process: run the stop functions in
// order (RPC server first so no new work arrives, then consumers, outbox relay,
// telemetry, database pool) and exit 0, which is what Kubernetes and `npm
// start` expect from a clean shutdown.
import type { Logger } from "pino";

export type StopFn = () => void | Promise<void>;

export interface SignalOptions {
  logger?: Pick<Logger, "info" | "error">;
  /** Replaced in tests; defaults to process.exit. */
  exit?: (code: number) => void;
  /**
   * Longest drain when the parent process is gone (see below); default 2 s.
   */
  orphanDrainMs?: number;
}

/** How long a service whose launcher died may drain before it exits anyway. */
export const ORPHAN_DRAIN_MS = 2_000;

/** Installs the handlers; returns a function that removes them. */
export function handleSignals(stops: readonly StopFn[], options: SignalOptions = {}): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let shuttingDown = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      // A second Ctrl-C means "now": skip the drain.
      options.logger?.error({ signal }, "second signal during shutdown, exiting immediately");
      exit(1);
      return;
    }
    shuttingDown = true;
    options.logger?.info({ signal }, "shutting down");
    void (async () => {
      let code = 0;
      for (const stop of stops) {
        try {
          await stop();
        } catch (err) {
          // Keep going: a failing step must not leave later resources open.
          options.logger?.error({ err }, "shutdown step failed");
          code = 1;
        }
      }
      exit(code);
    })();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // Started by `npm start` (the launcher opens an IPC channel to each
  // service): when the launcher dies, by any signal including SIGKILL, the
  // channel closes. Then drain briefly and exit, so no service outlives it.
  // The channel must not keep the process alive by itself.
  const onParentGone = () => {
    const timer = setTimeout(() => {
      exit(0);
    }, options.orphanDrainMs ?? ORPHAN_DRAIN_MS);
    timer.unref();
    onSignal("SIGHUP");
  };
  if (process.channel) {
    process.channel.unref();
    process.once("disconnect", onParentGone);
  }
  return () => {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    process.off("disconnect", onParentGone);
  };
}
