// One JSON line per call when it ends: rpc service and method, code,
// duration, protocol. Streams are logged when their response stream finishes, so the
// duration and code cover the whole stream.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { connectCodeName, isServerFault } from "../rpc-codes.ts";

export function accessLogInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const log = (err?: unknown) => {
      const code = err === undefined ? undefined : ConnectError.from(err).code;
      const line = {
        // Nested: the logger's own `service` field names the emitting process.
        rpc: { service: req.service.typeName, method: req.method.name, kind: req.method.methodKind },
        code: code === undefined ? "ok" : connectCodeName(code),
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        protocol: protocolOf(req.header.get("content-type")),
      };
      logger[code !== undefined && isServerFault(code) ? "warn" : "info"](line, "rpc");
    };
    let res;
    try {
      res = await next(req);
    } catch (err) {
      log(err);
      throw err;
    }
    if (!res.stream) {
      log();
      return res;
    }
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        let failure: unknown;
        try {
          yield* messages;
        } catch (err) {
          failure = err;
          throw err;
        } finally {
          // finally also runs when the client cancels mid-stream (return()).
          log(
            failure ??
              (req.signal.aborted ? (req.signal.reason ?? new ConnectError("canceled", Code.Canceled)) : undefined),
          );
        }
      })(),
    };
  };
}

function protocolOf(contentType: string | null): string {
  if (contentType?.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}
