// What the browser may learn from an internal service's error. Errors about
// the caller's request (bad field, unknown order, taken email...) pass through
// with their code, message and field violations, because the web app shows
// them to the user (the only detail forwarded is protovalidate's field
// violations, which forms map onto fields; message and violations are
// bounded in size). Anything else (Internal, Unknown, DataLoss, a broken
// connection) says only that something went wrong on our side; the detail
// stays in the gateway's log.
import { create } from "@bufbuild/protobuf";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError, type Interceptor, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";
import { translateFailures } from "@shop/runtime/interceptors/stream-failures";
import type { Logger } from "@shop/runtime/log";
import { isServerFault } from "@shop/runtime/rpc-codes";

/**
 * Bounds on what is forwarded, whatever a downstream service sent (the
 * runtime's own bounds: 1 KiB of message, 10 violations), so that the error
 * fits the 8 KiB of trailers gRPC clients accept.
 */
const MAX_FORWARDED_MESSAGE = 1024;
const MAX_FORWARDED_VIOLATIONS = 10;

export const GENERIC_INTERNAL_MESSAGE = "something went wrong on our side; please try again";
export const GENERIC_UNAVAILABLE_MESSAGE = "the shop is temporarily unavailable; please try again shortly";

/** The error the gateway's caller sees for `err`, thrown by a downstream call (or by the gateway itself). */
export function toCallerError(err: unknown, logger: Logger, procedure: string): ConnectError {
  const error = ConnectError.from(err);
  // Not the server's fault: the answer is about the caller's request (a
  // cancellation, though, is reported in our words below).
  if (error.code !== Code.Canceled && !isServerFault(error.code)) {
    const message =
      error.rawMessage.length > MAX_FORWARDED_MESSAGE
        ? `${error.rawMessage.slice(0, MAX_FORWARDED_MESSAGE)}…`
        : error.rawMessage;
    // Retry-After (a locked sign-in) tells the caller how long to wait.
    const retryAfter = error.metadata.get("retry-after");
    const forwarded = new ConnectError(message, error.code, retryAfter ? { "retry-after": retryAfter } : undefined);
    const violations = error.findDetails(ViolationsSchema).at(0);
    if (violations) {
      forwarded.details.push({
        desc: ViolationsSchema,
        value: create(ViolationsSchema, { violations: violations.violations.slice(0, MAX_FORWARDED_VIOLATIONS) }),
      });
    }
    return forwarded;
  }
  switch (error.code) {
    case Code.Canceled:
      return new ConnectError("the call was cancelled", Code.Canceled);
    case Code.DeadlineExceeded:
      return new ConnectError("the call took too long", Code.DeadlineExceeded);
    case Code.Unavailable: {
      // Our own message for the caller; the transport's (address, errno) for us.
      const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
      logger.warn(
        { procedure, code: Code[error.code], err: `${error.rawMessage}${cause}` },
        "a downstream service is unavailable",
      );
      return new ConnectError(GENERIC_UNAVAILABLE_MESSAGE, Code.Unavailable);
    }
    default:
      logger.error({ procedure, code: Code[error.code], err }, "downstream call failed");
      return new ConnectError(GENERIC_INTERNAL_MESSAGE, Code.Internal);
  }
}

/**
 * Every storefront handler's errors passed through toCallerError: a unary
 * call's rejection, a stream's failure while it is relayed. Innermost in the
 * chain (a service part's `interceptors`), so only what the handlers throw is
 * translated; the runtime's own answers (validation, auth) pass as they are.
 */
export function callerErrorInterceptor(logger: Logger): Interceptor {
  // Not async, and the procedure named only for a failure: this runs on every call.
  return (next) => (req) => {
    const translate = (err: unknown) => toCallerError(err, logger, `/${req.service.typeName}/${req.method.name}`);
    let answer: Promise<UnaryResponse | StreamResponse>;
    try {
      answer = next(req);
    } catch (err) {
      return Promise.reject(translate(err));
    }
    return answer.then(
      (res) => (res.stream ? { ...res, message: translateFailures(res.message, translate) } : res),
      (err: unknown) => {
        throw translate(err);
      },
    );
  };
}
