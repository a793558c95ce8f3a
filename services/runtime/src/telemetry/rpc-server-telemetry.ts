// Server side of every RPC: a SERVER span that continues the caller's trace
// (traceparent from the request headers) and the RED metrics. Installed as
// the outermost interceptor, so the span covers auth, validation and the
// access log (whose line then carries the trace id), and sees the final,
// normalised code. Health and reflection are not traced (see server.ts).
import type { Interceptor } from "@connectrpc/connect";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { codeOf, connectCodeName, grpcCodeName, isServerFault } from "../rpc-codes.ts";
import { observeCallEnd } from "../interceptors/call-end.ts";
import { RpcMetrics } from "./rpc-metrics.ts";
import { RpcAttributeCache, type RpcSystem } from "./rpc-attributes.ts";
import {
  ATTR_RPC_CONNECT_RPC_ERROR_CODE,
  ATTR_RPC_GRPC_STATUS_CODE,
  ATTR_RPC_RESPONSE_STATUS_CODE,
} from "./semconv.ts";
import type { ServiceTelemetry } from "./service-telemetry.ts";
import { contextFromRequestHeaders } from "./trace-context.ts";

export function rpcServerTelemetry(telemetry: ServiceTelemetry): Interceptor {
  const metrics = new RpcMetrics(telemetry.meter, "server");
  const attributes = new RpcAttributeCache();
  // Not async (it returns observeCallEnd's promise): it runs on every call.
  return (next) => (req) => {
    const started = performance.now();
    const system = rpcSystemOf(req.header.get("content-type"));
    const call = attributes.of(req.method, system);
    const parent = contextFromRequestHeaders(req.header);
    const span = telemetry.tracer.startSpan(
      call.spanName,
      { kind: SpanKind.SERVER, attributes: call.span(req.url) },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    const onEnd = (error?: unknown) => {
      const code = codeOf(error);
      const status = grpcCodeName(code);
      if (system === "grpc") span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, code);
      else if (code !== 0) span.setAttribute(ATTR_RPC_CONNECT_RPC_ERROR_CODE, connectCodeName(code));
      span.setAttribute(ATTR_RPC_RESPONSE_STATUS_CODE, status);
      // The OpenTelemetry RPC conventions: a server span is an error only for the server's faults.
      if (isServerFault(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: status });
      span.end();
      metrics.record(call.metric(status), (performance.now() - started) / 1000);
    };
    return observeCallEnd(() => next(req), { signal: req.signal, onEnd, within: (step) => context.with(ctx, step) });
  };
}

/** gRPC and gRPC-Web carry gRPC status codes; everything else here is the Connect protocol. */
function rpcSystemOf(contentType: string | null): RpcSystem {
  return contentType?.startsWith("application/grpc") ? "grpc" : "connect_rpc";
}
