// A CLIENT span for every query drizzle sends, made at the postgres.js layer.
//
// Why by hand: the maintained Postgres instrumentation
// (@opentelemetry/instrumentation-pg) is for the `pg` driver; the one npm
// package for postgres.js (otel-instrumentation-postgres) patches the module
// through require hooks, which our ESM imports never pass without a loader
// hook, is built on the OpenTelemetry JS 2.x instrumentation base, and
// reports to the global tracer provider, while each service here has its own.
// Switching to `pg` + instrumentation-pg is the alternative; we keep
// postgres.js for its performance and its LISTEN/NOTIFY support (the outbox
// relay and the change feeds wake on it).
//
// How: drizzle runs every statement through `client.unsafe(text, params)`
// (and transactions through `client.begin`/`savepoint`, whose transaction
// client is wrapped the same way; see interceptStatements). The span starts when the query is awaited,
// which is when postgres.js sends it, and ends when it settles. Only the
// parameterised text is recorded, never the parameters (password hashes,
// tokens, addresses). Queries outside any recording span (pollers, the
// relay's own bookkeeping, metric gauges) make no spans: they would be
// thousands of one-span traces saying nothing.
import { context, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import { interceptStatements, type Sql } from "../db/database.ts";
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  DB_SYSTEM_POSTGRESQL,
} from "./semconv.ts";

export interface DatabaseTarget {
  database: string;
  host: string;
  port: number;
}

/** Returns `client` with query spans; everything else (listen, end, sql``) passes through. */
export function withQuerySpans(client: Sql, tracer: Tracer, target: DatabaseTarget): Sql {
  const base = {
    [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_POSTGRESQL,
    [ATTR_DB_NAMESPACE]: target.database,
    [ATTR_SERVER_ADDRESS]: target.host,
    [ATTR_SERVER_PORT]: target.port,
  };

  const traced = (query: PromiseLike<unknown> & object, text: string): unknown => {
    const proxy: object = new Proxy(query, {
      get(q, prop) {
        if (prop === "then") {
          return (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) => {
            const parent = context.active();
            if (!trace.getSpan(parent)?.isRecording()) return q.then(onFulfilled, onRejected);
            const { operation, collection } = describe(text);
            const span = tracer.startSpan(
              collection ? `${operation} ${collection}` : operation,
              {
                kind: SpanKind.CLIENT,
                attributes: {
                  ...base,
                  [ATTR_DB_OPERATION_NAME]: operation,
                  ...(collection ? { [ATTR_DB_COLLECTION_NAME]: collection } : {}),
                  [ATTR_DB_QUERY_TEXT]: text.length > 4000 ? `${text.slice(0, 4000)}…` : text,
                },
              },
              parent,
            );
            return q
              .then(
                (value) => {
                  span.end();
                  return value;
                },
                (error: unknown) => {
                  const code = (error as { code?: unknown } | null | undefined)?.code;
                  const type = typeof code === "string" ? code : error instanceof Error ? error.name : "Error";
                  if (typeof code === "string") span.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, code);
                  span.setAttribute(ATTR_ERROR_TYPE, type);
                  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
                  span.end();
                  throw error;
                },
              )
              .then(onFulfilled, onRejected);
          };
        }
        const value = Reflect.get(q, prop, q) as unknown;
        if (typeof value !== "function") return value;
        // Builder methods (.values(), .raw()...) return the query itself: keep returning the proxy.
        return (...args: unknown[]) => {
          const result = (value as (...a: unknown[]) => unknown).apply(q, args);
          return result === q ? proxy : result;
        };
      },
    });
    return proxy;
  };

  return interceptStatements(client, (unsafe, text, rest) =>
    traced(unsafe(text, ...rest) as PromiseLike<unknown> & object, text),
  );
}

/** "select ... from \"orders\"" → { operation: "SELECT", collection: "orders" }. */
function describe(text: string): { operation: string; collection?: string } {
  const operation = (/^\s*([a-z]+)/i.exec(text)?.[1] ?? "QUERY").toUpperCase();
  const table = /\b(?:from|into|update|join)\s+((?:"[^"]+"|[a-z_][\w$]*)(?:\.(?:"[^"]+"|[a-z_][\w$]*))?)/i.exec(
    text,
  )?.[1];
  return { operation, ...(table ? { collection: table.replaceAll('"', "") } : {}) };
}
