// Client side of every call to a declared dependency: a CLIENT span, child of
// whatever is active (the RPC or event handler making the call), whose
// context goes out in the traceparent header; and the client RED metrics.
// Dependency clients speak the Connect protocol (see clients.ts).
import type { Interceptor } from "@connectrpc/connect";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { codeOf, connectCodeName, grpcCodeName } from "../rpc-codes.ts";
import { observeCallEnd } from "../interceptors/call-end.ts";
import { RpcMetrics } from "./rpc-metrics.ts";
import { RpcAttributeCache } from "./rpc-attributes.ts";
import { ATTR_RPC_CONNECT_RPC_ERROR_CODE, ATTR_RPC_RESPONSE_STATUS_CODE } from "./semconv.ts";
import type { ServiceTelemetry } from "./service-telemetry.ts";
import { injectIntoRequestHeaders } from "./trace-context.ts";

export function rpcClientTelemetry(telemetry: ServiceTelemetry): Interceptor {
  const metrics = new RpcMetrics(telemetry.meter, "client");
  const attributes = new RpcAttributeCache();
  // Not async (it returns observeCallEnd's promise): it runs on every call.
  return (next) => (req) => {
    const started = performance.now();
    const call = attributes.of(req.method, "connect_rpc");
    const parent = context.active();
    const span = telemetry.tracer.startSpan(
      call.spanName,
      { kind: SpanKind.CLIENT, attributes: call.span(req.url) },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    injectIntoRequestHeaders(ctx, req.header);
    const onEnd = (error?: unknown) => {
      const code = codeOf(error);
      const status = grpcCodeName(code);
      span.setAttribute(ATTR_RPC_RESPONSE_STATUS_CODE, status);
      // The OpenTelemetry RPC conventions: a client span is an error for every code but OK.
      if (code !== 0) {
        span.setAttribute(ATTR_RPC_CONNECT_RPC_ERROR_CODE, connectCodeName(code));
        span.setStatus({ code: SpanStatusCode.ERROR, message: status });
      }
      span.end();
      metrics.record(call.metric(status), (performance.now() - started) / 1000);
    };
    return observeCallEnd(() => next(req), { signal: req.signal, onEnd, within: (step) => context.with(ctx, step) });
  };
}
