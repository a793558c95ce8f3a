// relayStream on its own, with async generators for the downstream stream:
// it relays every message, and it ends the downstream call (aborts the signal
// it was opened with) when the caller goes away or the gateway drains, the
// latter without an error.
import { Code, ConnectError, createContextValues, createHandlerContext } from "@connectrpc/connect";
import { StorefrontService } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { drainSignalKey } from "@shop/runtime/server";
import { describe, expect, it } from "vitest";
import { relayStream } from "../src/stream-relay.ts";

/** A handler context for WatchOrder whose caller and drain can be controlled. */
function watchContext() {
  const draining = new AbortController();
  const ctx = createHandlerContext({
    service: StorefrontService,
    method: StorefrontService.method.watchOrder,
    protocolName: "connect",
    requestMethod: "POST",
    url: "http://gateway.test/shop.storefront.v1.StorefrontService/WatchOrder",
    contextValues: createContextValues().set(drainSignalKey, draining.signal),
  });
  return { ctx, draining };
}

/**
 * A downstream stream like a Connect client's: yields `messages`, then stays
 * open until its signal aborts and fails Canceled. `calls` records the signals it was opened with.
 */
function downstream(messages: number[]) {
  const calls: AbortSignal[] = [];
  const open = async function* (signal: AbortSignal) {
    calls.push(signal);
    yield* messages;
    if (!signal.aborted)
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    throw new ConnectError("This operation was aborted", Code.Canceled);
  };
  return { open, calls };
}

describe("relayStream", { timeout: 5_000 }, () => {
  it("relays every message, mapped, and ends when the downstream stream ends", async () => {
    const { ctx } = watchContext();
    const out: string[] = [];
    for await (const m of relayStream(
      ctx,
      async function* () {
        yield* [1, 2, 3];
      },
      (n: number) => `#${n}`,
    ))
      out.push(m);
    expect(out).toEqual(["#1", "#2", "#3"]);
  });

  it("aborts the downstream call when the caller goes away", async () => {
    const { ctx } = watchContext();
    const { open, calls } = downstream([1]);
    const relay = relayStream(ctx, open, (n) => n);
    expect(await relay.next()).toEqual({ done: false, value: 1 });
    const next = relay.next();
    expect(calls[0].aborted).toBe(false);
    ctx.abort(new ConnectError("the browser went away", Code.Canceled));
    await expect(next).rejects.toMatchObject({ code: Code.Canceled });
    expect(calls[0].aborted).toBe(true);
  });

  it("ends cleanly, and aborts the downstream call, when the gateway drains", async () => {
    const { ctx, draining } = watchContext();
    const { open, calls } = downstream([1, 2]);
    const relay = relayStream(ctx, open, (n) => n);
    const out: number[] = [];
    const relayed = (async () => {
      for await (const m of relay) out.push(m);
    })();
    await expect.poll(() => out.length).toBe(2);
    draining.abort();
    await expect(relayed).resolves.toBeUndefined();
    expect(calls[0].aborted).toBe(true);
    expect(ctx.signal.aborted).toBe(false);
  });

  it("does not open a downstream call at all once the gateway is draining", async () => {
    const { ctx, draining } = watchContext();
    const { open, calls } = downstream([1]);
    draining.abort();
    expect(await relayStream(ctx, open, (n) => n).next()).toEqual({ done: true, value: undefined });
    expect(calls).toHaveLength(0);
  });

  it("passes a downstream failure on while not draining", async () => {
    const { ctx } = watchContext();
    const failing = async function* (): AsyncGenerator<number> {
      yield 1;
      throw new ConnectError("order not found", Code.NotFound);
    };
    const relay = relayStream(ctx, failing, (n) => n);
    await relay.next();
    await expect(relay.next()).rejects.toMatchObject({ code: Code.NotFound, rawMessage: "order not found" });
  });
});
