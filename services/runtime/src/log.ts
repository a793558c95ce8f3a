// One JSON logger per process, every line tagged with the service name so
// logs from all services can share one sink and still be told apart, and,
// when written inside a span (an RPC, an event being processed), with its
// trace_id and span_id so a log line leads to its trace and back. Secrets
// are redacted (see log-redaction.ts).
import { isSpanContextValid, trace } from "@opentelemetry/api";
import { pino, type DestinationStream, type Logger } from "pino";
import { NonBlockingStdout } from "./log-destination.ts";
import { redactSecrets, serializeError } from "./log-redaction.ts";

export type { Logger };

export interface LoggerOptions {
  /** Default "info"; services pass their validated LOG_LEVEL (service.ts). */
  level?: string;
  /** Defaults to stdout (never blocking: see log-destination.ts); tests pass a stream to read the lines back. */
  destination?: DestinationStream;
}

export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"info" rather than pino's numeric 30: log backends and humans
      // both read names.
      formatters: { level: (label) => ({ level: label }), log: redactSecrets },
      mixin: traceCorrelation,
      serializers: { err: serializeError },
    },
    options.destination ?? new NonBlockingStdout(),
  );
}

/** trace_id/span_id of the active span (also of a caller's span passed through untraced). */
function traceCorrelation(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const ctx = span.spanContext();
  return isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
}
