// The one wrapper that sees when an RPC ends (access log, spans, metrics):
// exactly one end per call, whichever way the call ends.
import { AsyncLocalStorage } from "node:async_hooks";
import { Code, ConnectError, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { observeCallEnd } from "../src/interceptors/call-end.ts";

const OK = "ok";

function recorder() {
  const ends: unknown[] = [];
  return { ends, onEnd: (error?: unknown) => ends.push(error ?? OK) };
}

function streamOf(message: AsyncIterable<number>): () => Promise<StreamResponse> {
  return () => Promise.resolve({ stream: true, message } as unknown as StreamResponse);
}

/** Yields `values`, then fails with `failure` if given; records whether its finally ran. */
function source(values: number[], failure?: Error) {
  const state = { cleanedUp: false };
  const messages = (async function* () {
    try {
      yield* values;
      if (failure) throw failure;
    } finally {
      state.cleanedUp = true;
    }
  })();
  return { messages, state };
}

function messagesOf(res: StreamResponse): AsyncIterable<number> {
  return res.message as AsyncIterable<number>;
}

describe("observeCallEnd", () => {
  it("ends a unary call once when it answers, and once with the error when it fails", async () => {
    const answered = recorder();
    const res = { stream: false, message: {} } as unknown as UnaryResponse;
    expect(
      await observeCallEnd(() => Promise.resolve(res), { signal: new AbortController().signal, ...answered }),
    ).toBe(res);
    expect(answered.ends).toEqual([OK]);

    const failed = recorder();
    const error = new ConnectError("no such order", Code.NotFound);
    await expect(
      observeCallEnd(() => Promise.reject(error), { signal: new AbortController().signal, ...failed }),
    ).rejects.toBe(error);
    expect(failed.ends).toEqual([error]);
  });

  it("ends a stream once, after its last message, when it finishes", async () => {
    const { ends, onEnd } = recorder();
    const { messages, state } = source([1, 2, 3]);
    const res = await observeCallEnd(streamOf(messages), { signal: new AbortController().signal, onEnd });
    expect(ends).toEqual([]); // not before the stream is read
    const seen: number[] = [];
    for await (const m of messagesOf(res)) {
      seen.push(m);
      expect(ends).toEqual([]);
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(ends).toEqual([OK]);
    expect(state.cleanedUp).toBe(true);
    // Reading on after the end neither pulls nor ends again.
    const iterator = messagesOf(res)[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
    await iterator.return?.();
    expect(ends).toEqual([OK]);
  });

  it("ends a stream once with the handler's error when it fails mid-stream", async () => {
    const { ends, onEnd } = recorder();
    const failure = new ConnectError("broken", Code.Internal);
    const res = await observeCallEnd(streamOf(source([1], failure).messages), {
      signal: new AbortController().signal,
      onEnd,
    });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const m of messagesOf(res)) seen.push(m);
      })(),
    ).rejects.toBe(failure);
    expect(seen).toEqual([1]);
    expect(ends).toEqual([failure]);
  });

  it("ends a stream once, and lets the handler clean up, when the reader stops early", async () => {
    const { ends, onEnd } = recorder();
    const { messages, state } = source([1, 2, 3]);
    const res = await observeCallEnd(streamOf(messages), { signal: new AbortController().signal, onEnd });
    for await (const m of messagesOf(res)) {
      if (m === 2) break; // return() on the wrapper
    }
    expect(state.cleanedUp).toBe(true);
    expect(ends).toEqual([OK]);
  });

  it("ends an abandoned stream with the reason its signal aborted with (the client went away)", async () => {
    const { ends, onEnd } = recorder();
    const abort = new AbortController();
    const res = await observeCallEnd(streamOf(source([1, 2]).messages), { signal: abort.signal, onEnd });
    const iterator = messagesOf(res)[Symbol.asyncIterator]();
    await iterator.next();
    const reason = new ConnectError("client went away", Code.Canceled);
    abort.abort(reason);
    await iterator.return?.();
    await iterator.return?.(); // a second return() changes nothing
    expect(ends).toEqual([reason]);

    // A handler that sees the abort and simply finishes ended the same way.
    const finished = recorder();
    const stopped = new AbortController();
    const watch = await observeCallEnd(streamOf(source([1]).messages), { signal: stopped.signal, ...finished });
    stopped.abort(reason);
    for await (const _ of messagesOf(watch));
    expect(finished.ends).toEqual([reason]);
  });

  it("tells the handler when the reader throws in its write failure, and ends the call as Canceled", async () => {
    const { ends, onEnd } = recorder();
    const toldHandler: unknown[] = [];
    const messages = (async function* () {
      try {
        yield 1;
        yield 2;
      } catch (err) {
        toldHandler.push(err);
        yield 3; // a handler that carries on regardless is still returned
      }
    })();
    const res = await observeCallEnd(streamOf(messages), { signal: new AbortController().signal, onEnd });
    const iterator = messagesOf(res)[Symbol.asyncIterator]();
    await iterator.next();
    const writeFailed = new Error("write EPIPE");
    await expect(iterator.throw?.(writeFailed)).rejects.toBe(writeFailed);
    expect(toldHandler).toEqual([writeFailed]);
    expect(await messages.next()).toEqual({ done: true, value: undefined });
    expect(ends).toHaveLength(1);
    expect(ConnectError.from(ends[0]).code).toBe(Code.Canceled);
  });

  it("ends a stream returned before its first message was pulled, and returns the source", async () => {
    const { ends, onEnd } = recorder();
    let returned = 0;
    const messages: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: () => Promise.resolve({ done: false, value: 1 }),
        return: () => {
          returned++;
          return Promise.resolve({ done: true, value: undefined });
        },
      }),
    };
    const res = await observeCallEnd(streamOf(messages), { signal: new AbortController().signal, onEnd });
    await messagesOf(res)[Symbol.asyncIterator]().return?.();
    expect(returned).toBe(1);
    expect(ends).toEqual([OK]);
  });

  it("runs the call and every pull of its stream within the given step runner", async () => {
    const storage = new AsyncLocalStorage<string>();
    const seenIn: (string | undefined)[] = [];
    const messages = (async function* () {
      seenIn.push(storage.getStore());
      yield 1;
      seenIn.push(storage.getStore());
    })();
    const res = await observeCallEnd(
      () => {
        seenIn.push(storage.getStore());
        return streamOf(messages)();
      },
      { signal: new AbortController().signal, onEnd: () => {}, within: (step) => storage.run("call", step) },
    );
    for await (const _ of messagesOf(res)) seenIn.push(storage.getStore());
    // The call and both pulls ran in "call"; the reader's own loop body did not.
    expect(seenIn).toEqual(["call", "call", undefined, "call"]);
  });
});
