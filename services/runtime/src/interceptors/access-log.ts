// One JSON line per call when it ends: rpc service and method, code,
// duration, protocol. Streams are logged when their response stream finishes, so the
// duration and code cover the whole stream.
import type { DescMethod } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { codeOf, connectCodeName, isServerFault } from "../rpc-codes.ts";
import { observeCallEnd } from "./call-end.ts";

interface RpcName {
  readonly service: string;
  readonly method: string;
  readonly kind: DescMethod["methodKind"];
}

export function accessLogInterceptor(logger: Logger): Interceptor {
  // The `rpc` field of a method's lines, made once: every line of a method
  // has the same one, and the logger only reads it.
  const names = new Map<DescMethod, RpcName>();
  const nameOf = (method: DescMethod): RpcName => {
    let name = names.get(method);
    if (name === undefined) {
      name = { service: method.parent.typeName, method: method.name, kind: method.methodKind };
      names.set(method, name);
    }
    return name;
  };
  return (next) => (req) => {
    const started = performance.now();
    const onEnd = (err?: unknown) => {
      const code = codeOf(err);
      const line = {
        // Nested: the logger's own `service` field names the emitting process.
        rpc: nameOf(req.method),
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
