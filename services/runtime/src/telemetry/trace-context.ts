// W3C trace context (traceparent/tracestate), and the mesh's routing headers
// (../routing-headers.ts), in and out of the places they travel: RPC request
// headers, outbox rows and NATS message headers. Plus
// the process-wide AsyncLocalStorage context manager that lets the active
// span follow async code from an RPC handler into its queries, outgoing
// calls and enqueued events.
//
// This works whether or not the service records spans: without an exporter
// the tracer is OpenTelemetry's no-op tracer, whose "spans" carry the
// incoming context unchanged, so a service that exports nothing still passes
// its caller's trace on to the services it calls and the events it emits.
import {
  context,
  ROOT_CONTEXT,
  type Context,
  type ContextManager,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { routingHeadersPropagator } from "../routing-headers.ts";

/** W3C trace context plus the mesh's routing headers: what every hop carries. */
export const propagator: TextMapPropagator = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), routingHeadersPropagator],
});

let contextManagerInstalled = false;

/**
 * The context manager for the NodeSDK to install (process mode,
 * service-telemetry.ts): the same kind, and installContextManager leaves it be.
 */
export function contextManagerForSdk(): ContextManager {
  contextManagerInstalled = true;
  return new AsyncLocalStorageContextManager();
}

/** Installs the AsyncLocalStorage context manager once per process. */
export function installContextManager(): void {
  if (contextManagerInstalled) return;
  contextManagerInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

const fetchHeadersGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};
const fetchHeadersSetter: TextMapSetter<Headers> = { set: (headers, key, value) => headers.set(key, value) };

// Stored and NATS headers keep the case they were written with; look up
// case-insensitively so "Traceparent" from another producer still links.
const recordGetter: TextMapGetter<Record<string, string>> = {
  keys: (record) => Object.keys(record),
  get: (record, key) => record[key] ?? Object.entries(record).find(([k]) => k.toLowerCase() === key)?.[1],
};
const recordSetter: TextMapSetter<Record<string, string>> = { set: (record, key, value) => (record[key] = value) };

/** The trace context a request carries (ROOT_CONTEXT-based: never the ambient one). */
export function contextFromRequestHeaders(headers: Headers): Context {
  return propagator.extract(ROOT_CONTEXT, headers, fetchHeadersGetter);
}

export function injectIntoRequestHeaders(ctx: Context, headers: Headers): void {
  propagator.inject(ctx, headers, fetchHeadersSetter);
}

/** The trace context in stored or message headers. */
export function contextFromEventHeaders(headers: Record<string, string>): Context {
  return propagator.extract(ROOT_CONTEXT, headers, recordGetter);
}

/** `{ traceparent, tracestate?, <routing headers> }` for `ctx`; empty when it holds neither. */
export function traceHeadersOf(ctx: Context): Record<string, string> {
  const headers: Record<string, string> = {};
  propagator.inject(ctx, headers, recordSetter);
  return headers;
}
