// A default deadline for calls whose client set none (or a longer one), so a
// stuck database or downstream service cannot hold a request and its
// resources forever. Handlers see it through ctx.signal, which they pass on to
// downstream calls and queries.
//
// Calls with a streamed response (server streaming and bidi, e.g. order Watch
// or reflection) are exempt: they are meant to stay open.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

export const DEFAULT_TIMEOUT_MS = 10_000;

export function deadlineInterceptor(defaultTimeoutMs = DEFAULT_TIMEOUT_MS): Interceptor {
  return (next) => async (req) => {
    const kind = req.method.methodKind;
    if (kind === "server_streaming" || kind === "bidi_streaming") return next(req);
    // req.signal already carries the client's grpc-timeout/connect-timeout-ms,
    // so combining both yields whichever deadline comes first.
    const timer = new AbortController();
    const timeout = setTimeout(
      () => timer.abort(new ConnectError(`deadline of ${defaultTimeoutMs} ms exceeded`, Code.DeadlineExceeded)),
      defaultTimeoutMs,
    );
    const signal = AbortSignal.any([req.signal, timer.signal]);
    try {
      // Race, so the caller gets its answer on time even from a handler that
      // ignores the signal.
      return await new Promise((resolve, reject) => {
        const onAbort = () => reject(ConnectError.from(signal.reason, Code.DeadlineExceeded));
        if (signal.aborted) {
          onAbort();
          return;
        }
        signal.addEventListener("abort", onAbort, { once: true });
        next({ ...req, signal })
          .then(resolve, reject)
          .finally(() => signal.removeEventListener("abort", onAbort));
      });
    } finally {
      clearTimeout(timeout);
    }
  };
}
