// Error normalisation: the only errors a client ever sees are ConnectErrors
// that handler code raised on purpose. An outage of the database or the
// broker (outages.ts) becomes Code.Unavailable, which callers retry; anything
// else (a TypeError, a driver error with a connection string in it) becomes
// Code.Internal with a generic message, and the real error goes to the log
// with the procedure name.
//
// Why an interceptor: connect-node would otherwise send `String(err)` to the
// client for unary Connect calls, leaking internals.
//
// A streamed request is decoded while the handler reads it, inside this
// interceptor: bytes that do not decode are the caller's fault and answer
// InvalidArgument (unary requests are decoded before any interceptor; see
// rpc-handler.ts).
import {
  Code,
  ConnectError,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import type { Logger } from "pino";
import { isOutage } from "../outages.ts";
import { undecodableRequest } from "../rpc-handler.ts";
import { procedureOf } from "./procedure.ts";
import { translateFailures } from "./stream-failures.ts";

/**
 * An error message is cut to this many characters. Messages can echo what
 * the caller sent (an unknown service name, a field path); over gRPC they
 * travel in trailers, which clients cap (8 KiB in gRPC C-core) and which
 * must fit an HTTP/2 header block.
 */
export const MAX_ERROR_MESSAGE = 1024;

/**
 * `err` with its message cut to MAX_ERROR_MESSAGE and made well-formed: a
 * message echoing a lone surrogate the caller sent (JSON allows "\ud83e"),
 * or cut in the middle of a pair, cannot be percent-encoded into a gRPC
 * trailer, and connect-es would fail to answer at all.
 */
function bounded(err: ConnectError): ConnectError {
  const cut =
    err.rawMessage.length > MAX_ERROR_MESSAGE ? `${err.rawMessage.slice(0, MAX_ERROR_MESSAGE)}…` : err.rawMessage;
  const message = cut.toWellFormed();
  if (message === err.rawMessage) return err;
  const bounded = new ConnectError(message, err.code, err.metadata, [], err.cause);
  bounded.details.push(...err.details);
  return bounded;
}

export function errorInterceptor(logger: Logger): Interceptor {
  // Not async, and `normalize` made only for a failure: this runs on every call.
  return (next) => (req) => {
    if (req.stream) {
      req = {
        ...req,
        message: translateFailures(req.message, (err) =>
          err instanceof ConnectError && err.code === Code.Internal ? undecodableRequest(err) : err,
        ),
      };
    }
    let answer: Promise<UnaryResponse | StreamResponse>;
    try {
      answer = next(req);
    } catch (err) {
      return Promise.reject(normalize(logger, req, err));
    }
    return answer.then(
      (res) =>
        // Stream handlers fail while the response is iterated, after next() returned.
        res.stream ? { ...res, message: translateFailures(res.message, (err) => normalize(logger, req, err)) } : res,
      (err: unknown) => {
        throw normalize(logger, req, err);
      },
    );
  };
}

function normalize(logger: Logger, req: UnaryRequest | StreamRequest, err: unknown): ConnectError {
  if (err instanceof ConnectError) return bounded(err);
  // The client went away or the deadline passed and the handler surfaced
  // the AbortSignal's error: report why the call ended, not a server fault.
  if (req.signal.aborted) return ConnectError.from(req.signal.reason, Code.Canceled);
  // The database or the broker is down or restarting: retryable, not a bug.
  if (isOutage(err)) {
    logger.warn({ err, procedure: procedureOf(req) }, "rpc failed: a dependency is unavailable");
    return new ConnectError("temporarily unavailable, try again", Code.Unavailable);
  }
  logger.error({ err, procedure: procedureOf(req) }, "unhandled error in rpc handler");
  return new ConnectError("internal error", Code.Internal);
}
