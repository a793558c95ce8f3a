// Server side of every RPC: a SERVER span that continues the caller's trace
// (traceparent from the request headers) and the RED metrics. Installed as
// the outermost interceptor, so the span covers auth, validation and the
// access log (whose line then carries the trace id), and sees the final,
// normalised code. Health and reflection are not traced (see server.ts).
import type { Interceptor } from "@connectrpc/connect";
import { context, SpanKind, SpanStatusCode, trace, type Attributes } from "@opentelemetry/api";
import { codeOf, connectCodeName, grpcCodeName, isServerFault } from "../rpc-codes.ts";
import { observeCallEnd } from "../interceptors/call-end.ts";
import { RpcMetrics } from "./rpc-metrics.ts";
import {
  ATTR_RPC_CONNECT_RPC_ERROR_CODE,
  ATTR_RPC_GRPC_STATUS_CODE,
  ATTR_RPC_METHOD,
  ATTR_RPC_RESPONSE_STATUS_CODE,
  ATTR_RPC_SERVICE,
  ATTR_RPC_SYSTEM,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from "./semconv.ts";
import type { ServiceTelemetry } from "./service-telemetry.ts";
import { contextFromRequestHeaders } from "./trace-context.ts";

export function rpcServerTelemetry(telemetry: ServiceTelemetry): Interceptor {
  const metrics = new RpcMetrics(telemetry.meter, "server");
  return (next) => async (req) => {
    const started = performance.now();
    const system = rpcSystemOf(req.header.get("content-type"));
    const base: Attributes = {
      [ATTR_RPC_SYSTEM]: system,
      [ATTR_RPC_SERVICE]: req.service.typeName,
      [ATTR_RPC_METHOD]: req.method.name,
    };
    const parent = contextFromRequestHeaders(req.header);
    const span = telemetry.tracer.startSpan(
      `${req.service.typeName}/${req.method.name}`,
      { kind: SpanKind.SERVER, attributes: { ...base, ...serverAddressOf(req.url) } },
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
      metrics.record({ ...base, [ATTR_RPC_RESPONSE_STATUS_CODE]: status }, (performance.now() - started) / 1000);
    };
    return observeCallEnd(() => next(req), { signal: req.signal, onEnd, within: (step) => context.with(ctx, step) });
  };
}

/** gRPC and gRPC-Web carry gRPC status codes; everything else here is the Connect protocol. */
function rpcSystemOf(contentType: string | null): "grpc" | "connect_rpc" {
  return contentType?.startsWith("application/grpc") ? "grpc" : "connect_rpc";
}

export function serverAddressOf(url: string): Attributes {
  try {
    const u = new URL(url);
    const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
    return { [ATTR_SERVER_ADDRESS]: u.hostname, [ATTR_SERVER_PORT]: port };
  } catch {
    return {};
  }
}
