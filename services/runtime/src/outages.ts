// What counts as an outage of something a service depends on (its database,
// the broker, another service's connection), as opposed to a fault in our own
// code. Callers get Unavailable for an outage (retryable: the mesh and the
// clients retry it, with the same idempotency key) and Internal only for a
// real bug. One classification, used by the RPC error interceptor, the
// dependency clients and the start-up waits.

/** Node and postgres.js codes meaning "the connection is not there (now)". */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_WRITE_AFTER_END",
  "ERR_HTTP2_INVALID_STREAM",
  "ERR_HTTP2_STREAM_CANCEL",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_STREAM_ERROR",
  // postgres.js
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
]);

/**
 * Postgres SQLSTATEs of a server that is going away, starting up or full:
 * class 08 (connection exception), admin/crash shutdown, "the database
 * system is starting up / shutting down", too many connections.
 */
function isServerUnavailableState(sqlState: string): boolean {
  return sqlState.startsWith("08") || ["57P01", "57P02", "57P03", "53300"].includes(sqlState);
}

/** @nats-io error names of a broker that is unreachable, restarting or not answering. */
const BROKER_ERRORS = new Set([
  "ConnectionError",
  "ClosedConnectionError",
  "DrainingConnectionError",
  "TimeoutError",
  "NoRespondersError",
  "RequestError",
]);

function* causes(error: unknown): Generator {
  const seen = new Set<unknown>();
  for (let e = error; e !== undefined && e !== null && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    yield e;
    if (e instanceof AggregateError) for (const inner of e.errors) yield* causes(inner);
  }
}

/**
 * Whether `error` (or any error in its cause chain: drizzle wraps driver
 * errors) says a database, the broker or a peer connection is unavailable.
 */
export function isOutage(error: unknown): boolean {
  for (const e of causes(error)) {
    if (typeof e !== "object" || e === null) continue;
    const { code, name } = e as { code?: unknown; name?: unknown };
    if (
      typeof code === "string" &&
      (CONNECTION_CODES.has(code) || (/^[0-9A-Z]{5}$/.test(code) && isServerUnavailableState(code)))
    )
      return true;
    if (typeof name === "string" && BROKER_ERRORS.has(name)) return true;
  }
  return false;
}

/** A short description of the outage for logs and start-up messages, e.g. "connect ECONNREFUSED 127.0.0.1:5432". */
export function outageReason(error: unknown): string {
  for (const e of causes(error)) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === "string" && CONNECTION_CODES.has(code) && typeof message === "string") return message;
  }
  return error instanceof Error ? error.message : String(error);
}
