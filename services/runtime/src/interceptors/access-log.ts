// One JSON line per call when it ends: rpc service and method, code,
// duration, protocol. Streams are logged when their response stream finishes, so the
// duration and code cover the whole stream.
import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { codeOf, connectCodeName, isServerFault } from "../rpc-codes.ts";
import { observeCallEnd } from "./call-end.ts";

export function accessLogInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const onEnd = (err?: unknown) => {
      const code = codeOf(err);
      const line = {
        // Nested: the logger's own `service` field names the emitting process.
        rpc: { service: req.service.typeName, method: req.method.name, kind: req.method.methodKind },
        code: code === 0 ? "ok" : connectCodeName(code),
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        protocol: protocolOf(req.header.get("content-type")),
      };
      logger[isServerFault(code) ? "warn" : "info"](line, "rpc");
    };
    return observeCallEnd(() => next(req), { signal: req.signal, onEnd });
  };
}

function protocolOf(contentType: string | null): string {
  if (contentType?.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}
