// A default deadline for calls whose client set none (or a longer one), so a
// stuck database or downstream service cannot hold a request and its
// resources forever. Handlers see it through ctx.signal, which they pass on to
// downstream calls and queries.
//
// Calls with a streamed response (server streaming and bidi, e.g. order Watch
// or reflection) are exempt: they are meant to stay open.
//
// Runs on every call, so it is written for cost: one AbortController linked to
// the call's signal by a listener, rather than AbortSignal.any (which keeps
// weak references and a finalization registry entry per call, and was the
// most expensive interceptor of a catalog GetProduct), and no async function.
import { Code, ConnectError, type Interceptor, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";

export const DEFAULT_TIMEOUT_MS = 10_000;

export function deadlineInterceptor(defaultTimeoutMs = DEFAULT_TIMEOUT_MS): Interceptor {
  const message = `deadline of ${defaultTimeoutMs} ms exceeded`;
  return (next) => (req) => {
    const kind = req.method.methodKind;
    if (kind === "server_streaming" || kind === "bidi_streaming") return next(req);
    // req.signal already carries the client's grpc-timeout/connect-timeout-ms,
    // so following it as well yields whichever deadline comes first. It is
    // followed for as long as it lives (as AbortSignal.any would): connect
    // aborts it once the call is over, and the handler's signal with it.
    const outer = req.signal;
    const controller = new AbortController();
    const signal = controller.signal;
    if (outer.aborted) controller.abort(outer.reason);
    else outer.addEventListener("abort", () => controller.abort(outer.reason), { once: true });
    // Race, so the caller gets its answer on time even from a handler that
    // ignores the signal.
    return new Promise<UnaryResponse | StreamResponse>((resolve, reject) => {
      const aborted = () => ConnectError.from(signal.reason, Code.DeadlineExceeded);
      if (signal.aborted) {
        reject(aborted());
        return;
      }
      const timeout = setTimeout(
        () => controller.abort(new ConnectError(message, Code.DeadlineExceeded)),
        defaultTimeoutMs,
      );
      const onAbort = () => {
        clearTimeout(timeout);
        reject(aborted());
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const settle = () => {
        clearTimeout(timeout);
        signal.removeEventListener("abort", onAbort);
      };
      let answer: Promise<UnaryResponse | StreamResponse>;
      try {
        answer = next({ ...req, signal });
      } catch (err) {
        settle();
        throw err;
      }
      answer.then(
        (res) => {
          settle();
          resolve(res);
        },
        (err: unknown) => {
          settle();
          reject(err);
        },
      );
    });
  };
}
