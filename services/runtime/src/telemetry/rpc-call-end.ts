// When an RPC ends, for spans and metrics: when next() throws, when a unary
// response comes back, or when a streamed response finishes, fails or is
// cancelled. Every step of the call (handler code included, also while a
// response stream is being produced) runs with `ctx` active.
import { Code, ConnectError, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";
import { context, type Context } from "@opentelemetry/api";

export async function runObservedCall<Res extends UnaryResponse | StreamResponse>(
  ctx: Context,
  signal: AbortSignal,
  call: () => Promise<Res>,
  onEnd: (error?: unknown) => void,
): Promise<Res> {
  let res: Res;
  try {
    res = await context.with(ctx, call);
  } catch (err) {
    onEnd(err);
    throw err;
  }
  if (!res.stream) {
    onEnd();
    return res;
  }
  const messages = res.message;
  return {
    ...res,
    message: (async function* () {
      const iterator = messages[Symbol.asyncIterator]();
      let failure: unknown;
      let finished = false;
      try {
        for (;;) {
          let next: IteratorResult<unknown>;
          // Only the handler's own failures count as its end. An error thrown
          // in at the yield below is the reader's (connect failing to write to
          // a client that went away): the handler has not finished, and the
          // finally block must still end it.
          try {
            // A stream handler's body runs in whoever pulls it (connect's
            // response writer), not in the interceptor: pull it in ctx.
            next = await context.with(ctx, () => iterator.next());
          } catch (err) {
            failure = err;
            finished = true;
            throw err;
          }
          if (next.done) {
            finished = true;
            return;
          }
          yield next.value;
        }
      } finally {
        // The reader stopped early (client cancelled, write failed): let the handler clean up.
        if (!finished) await context.with(ctx, async () => iterator.return?.()).catch(() => {});
        onEnd(failure ?? (signal.aborted ? (signal.reason ?? new ConnectError("canceled", Code.Canceled)) : undefined));
      }
    })(),
  };
}

/** The Connect/gRPC code an RPC ended with. */
export function codeOf(error: unknown): Code | 0 {
  return error === undefined ? 0 : ConnectError.from(error).code;
}
