// Process-wide safety nets of a service process (installed by runService,
// never by services embedded in a test process).
import type { Logger } from "pino";

/**
 * postgres.js 3.4.9 (the latest release) can throw from a timer when
 * Postgres drops its connections (a restart, an immediate shutdown): a write
 * scheduled with setImmediate runs after the socket was set to null,
 * `TypeError: Cannot read properties of null (reading 'write') at
 * Immediate.nextWrite` (porsager/postgres #1154, #1208). Nothing of ours is
 * on that stack, so nothing can catch it, and Node exits. The queries of the
 * dropped connection have already failed (with CONNECTION_CLOSED), so this
 * fault alone is logged and survived. The services' bundles carry a fix of
 * the driver that prevents it, and the poisoned connection it comes with
 * (scripts/postgres-write-fix.ts); this guard remains for code run from
 * sources (tests that embed services).
 */
export function isPostgresDriverNextWriteFault(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  if (!/^Cannot read properties of null \(reading '(write|removeListener)'\)$/.test(error.message)) return false;
  const firstFrame = error.stack?.split("\n").find((line) => line.trimStart().startsWith("at "));
  return firstFrame !== undefined && /^\s*at (Immediate\.)?nextWrite \(.*(postgres|dist\/main\.js)/.test(firstFrame);
}

const SOCKET_FAULTS = new Set(["ECONNRESET", "EPIPE", "ECONNREFUSED", "ETIMEDOUT"]);

/**
 * A socket's own error with nobody listening for it: a connection reset
 * (or refused) at the socket layer, whose stack holds only Node's internals.
 * Seen when Postgres shuts down in immediate mode while postgres.js 3.4.9 is
 * reconnecting: the error of a connection's socket reached no listener (the
 * driver's other connections reported the same reset to their queries as
 * usual) and Node exited (tests/e2e/supervision.test.ts, about one run in
 * five). The socket is destroyed once it has emitted the error, so nothing
 * is left to clean up; the connection is renewed by the driver's own
 * reconnect. Crashing for it would turn a database restart into a restart
 * of every service.
 */
export function isUnheardSocketFault(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, syscall } = error as NodeJS.ErrnoException;
  if (code === undefined || !SOCKET_FAULTS.has(code)) return false;
  if (syscall !== "read" && syscall !== "write" && syscall !== "connect") return false;
  const frames = (error.stack ?? "").split("\n").filter((line) => line.trimStart().startsWith("at "));
  return (
    frames.length > 0 && frames.every((line) => /\(node:internal\//.test(line) || /^\s*at node:internal\//.test(line))
  );
}

/**
 * Survives the postgres.js faults above; every other uncaught exception still
 * ends the process as Node would (its stack on stderr, exit code 1), after a
 * log line.
 */
export function tolerateDriverFaults(logger: Pick<Logger, "warn" | "fatal">): () => void {
  const onUncaught = (error: Error) => {
    if (isPostgresDriverNextWriteFault(error)) {
      logger.warn({ err: error }, "postgres.js dropped a write to a closed connection (porsager/postgres #1154)");
      return;
    }
    if (isUnheardSocketFault(error)) {
      logger.warn(
        { err: error },
        "a connection was reset with nobody listening for its error (the database restarting?)",
      );
      return;
    }
    logger.fatal({ err: error }, "uncaught exception");
    process.stderr.write(`${error.stack ?? String(error)}\n`);
    process.exit(1);
  };
  process.on("uncaughtException", onUncaught);
  return () => process.off("uncaughtException", onUncaught);
}
