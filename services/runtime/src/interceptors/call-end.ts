// When an RPC ends, for every interceptor that reports on it (access log,
// spans, metrics): when next() throws, when a unary response comes back, or
// when a streamed response finishes, fails, or is abandoned by its reader
// (client cancelled, write failed). `onEnd` is called exactly once, with the
// error the call ended with (undefined: it succeeded).
//
// The one place that wraps a response stream to see its end; errors.ts and the
// gateway rewrite a stream's failures with translateFailures
// (stream-failures.ts), which does not need to know when it ends.
import { Code, ConnectError, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";

export interface CallEndOptions {
  /** The call's signal: a stream abandoned after it aborted ended with its reason. */
  readonly signal: AbortSignal;
  readonly onEnd: (error?: unknown) => void;
  /**
   * Runs every step of the call: next() itself and each pull of a response
   * stream (whose handler body runs in whoever pulls it, connect's response
   * writer, not in the interceptor). Telemetry passes its span's context here.
   */
  readonly within?: <T>(step: () => T) => T;
}

const runStep = <T>(step: () => T): T => step();

// A plain function rather than an async one: it runs on every call, twice
// (spans and access log), and an async function that returns another
// promise costs extra promise jobs on top of its own.
export function observeCallEnd<Res extends UnaryResponse | StreamResponse>(
  call: () => Promise<Res>,
  { signal, onEnd, within = runStep }: CallEndOptions,
): Promise<Res> {
  let answer: Promise<Res>;
  try {
    answer = within(call);
  } catch (err) {
    onEnd(err);
    return Promise.reject(err);
  }
  return answer.then(
    (res) => {
      if (!res.stream) {
        onEnd();
        return res;
      }
      return { ...res, message: endObserved(res.message, signal, onEnd, within) };
    },
    (err: unknown) => {
      onEnd(err);
      throw err;
    },
  );
}

/**
 * `messages`, calling `onEnd` once: when the source finishes or fails, or when
 * the reader stops early (return(), or throw() with the reader's own error),
 * which the source is told of, so that the handler's finally blocks run. A
 * stream that finishes or is abandoned after its signal aborted ended with the
 * abort's reason. A hand-written
 * iterator rather than an async generator: a generator that is returned before
 * its first next() never runs its body, so it could neither end the call nor
 * return the source.
 */
function endObserved<T>(
  messages: AsyncIterable<T>,
  signal: AbortSignal,
  onEnd: (error?: unknown) => void,
  within: <R>(step: () => R) => R,
): AsyncIterableIterator<T> {
  const source = messages[Symbol.asyncIterator]();
  /** No more pulls: the source finished or failed, or the reader let go. */
  let closed = false;
  let ended = false;
  const end = (error?: unknown) => {
    closed = true;
    if (ended) return;
    ended = true;
    onEnd(error);
  };
  const aborted = (): unknown =>
    signal.aborted ? ((signal.reason as unknown) ?? new ConnectError("canceled", Code.Canceled)) : undefined;
  /** The reader let go: `stop` hands that to the handler, whose finally blocks run before the call counts as ended. */
  const abandon = async (stop: () => Promise<unknown>, error?: unknown) => {
    if (closed) return;
    closed = true;
    await within(async () => stop()).catch(() => {});
    end(aborted() ?? error);
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (closed) return { done: true, value: undefined };
      let next: IteratorResult<T>;
      try {
        next = await within(() => source.next());
      } catch (err) {
        // Only the source's own failures are how the call ended.
        end(err);
        throw err;
      }
      // A handler that stops once its signal aborts (the client went away) ends with the abort's reason.
      if (next.done) end(aborted());
      return next;
    },
    async return(value?: unknown) {
      await abandon(async () => source.return?.());
      return { done: true, value: value as T };
    },
    // Connect throws in the error it failed to write the response with (the
    // client went away): passed on to the handler, as connect means it to be;
    // the call ended with it, as Canceled unless it already has a code.
    async throw(err?: unknown) {
      const stop = async () => {
        try {
          await source.throw?.(err);
        } finally {
          // Also when the handler caught it and would yield again.
          await source.return?.();
        }
      };
      await abandon(stop, ConnectError.from(err, Code.Canceled));
      throw err;
    },
  };
}
