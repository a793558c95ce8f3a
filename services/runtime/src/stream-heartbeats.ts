// Keep-alive messages for long-lived server streams (order's and
// notification's Watch, the gateway's relays of them). A proxy cuts a stream
// on which nothing moved for its idle timeout (Envoy's stream_idle_timeout is
// 5 minutes, many load balancers allow 60 s), and a watch can wait far longer
// than that for its next change. So a Watch handler sends a heartbeat message
// (a response with only `heartbeat` set, as the contracts define it) whenever
// it has sent nothing for the interval: STREAM_HEARTBEAT_MS, handed to
// handlers through the context (heartbeatIntervalKey).
//
// The wrapper also ends the stream as soon as the client goes away (the
// handler context's signal), whatever the source is waiting for, and then
// ends the source too, so a watch never outlives its caller.
import { createContextKey, type HandlerContext } from "@connectrpc/connect";

export const DEFAULT_HEARTBEAT_MS = 20_000;

/** Milliseconds of silence after which a stream sends a heartbeat; set by the server from STREAM_HEARTBEAT_MS. */
export const heartbeatIntervalKey = createContextKey<number>(DEFAULT_HEARTBEAT_MS, {
  description: "how long a server stream may stay silent before it sends a heartbeat",
});

/**
 * `source`'s messages, plus `heartbeat()` after every interval in which
 * nothing was sent. Ends when `source` ends (passing on its error) or when
 * the caller goes away.
 */
export async function* withHeartbeats<T>(
  ctx: Pick<HandlerContext, "signal" | "values">,
  source: AsyncIterable<T>,
  heartbeat: () => T,
): AsyncGenerator<T> {
  const intervalMs = ctx.values.get(heartbeatIntervalKey);
  const it = source[Symbol.asyncIterator]();
  // The source's next() in flight: kept across heartbeats, never asked twice.
  let pending: Promise<IteratorResult<T>> | undefined;
  let sourceDone = false;
  const gone = new Promise<"gone">((resolve) => {
    if (ctx.signal.aborted) resolve("gone");
    else
      ctx.signal.addEventListener(
        "abort",
        () => {
          resolve("gone");
        },
        { once: true },
      );
  });
  try {
    for (;;) {
      pending ??= it.next();
      let timer: NodeJS.Timeout | undefined;
      const quiet = new Promise<"quiet">((resolve) => {
        timer = setTimeout(() => {
          resolve("quiet");
        }, intervalMs);
      });
      let result: IteratorResult<T> | "quiet" | "gone";
      try {
        result = await Promise.race([pending, quiet, gone]);
      } catch (err) {
        sourceDone = true; // a generator that threw is finished
        throw err;
      } finally {
        clearTimeout(timer);
      }
      if (result === "gone") return;
      if (result === "quiet") {
        yield heartbeat();
        continue;
      }
      pending = undefined;
      if (result.done) {
        sourceDone = true;
        return;
      }
      yield result.value;
    }
  } finally {
    if (!sourceDone) {
      // Stopped early (the client went away, or our reader returned): end the
      // source. A next() still in flight finishes first (the source sees the
      // same aborted signal), so do not wait for it here.
      const end = () => it.return?.().catch(() => undefined);
      if (pending) void pending.then(end, () => undefined);
      else await end();
    }
  }
}
