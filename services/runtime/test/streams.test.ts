// Long-lived server streams (the Watch RPCs): a handler always finishes when
// its client goes away, whatever moment it goes away at, and a quiet stream
// sends heartbeats at the server's STREAM_HEARTBEAT_MS.
import { Code, ConnectError, createClient, createContextValues } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { OrderService, type WatchOrderResponseSchema } from "@shop/gen/shop/order/v1/order_pb";
import { describe, expect, it } from "vitest";
import { implement } from "../src/server.ts";
import { heartbeatIntervalKey, withHeartbeats } from "../src/stream-heartbeats.ts";
import { observeCallEnd } from "../src/interceptors/call-end.ts";
import { ServiceTelemetry } from "../src/telemetry/service-telemetry.ts";
import { telemetrySettings } from "../src/telemetry/settings.ts";
import { captureLogs, startTestServer } from "./test-server.ts";
import { eventually } from "../../../tests/support/eventually.ts";

const orderId = "0190a000-0000-7000-8000-000000000001";
const unused = () => {
  throw new ConnectError("not used in this test", Code.Unimplemented);
};

/** An async generator that records whether its finally block ran. */
function trackedSource(values: number[]) {
  const state = { finished: false };
  const source = (async function* () {
    try {
      yield* values;
      await new Promise(() => {}); // then waits forever, like a watch with nothing new
    } finally {
      state.finished = true;
    }
  })();
  return { source, state };
}

describe("the telemetry wrapper of a streamed response", () => {
  it("ends the handler when the reader throws into the stream (a write to a client that went away)", async () => {
    const { source, state } = trackedSource([1]);
    const ends: unknown[] = [];
    const res = await observeCallEnd(() => Promise.resolve({ stream: true as const, message: source } as never), {
      signal: new AbortController().signal,
      onEnd: (error) => ends.push(error ?? "ok"),
    });
    const reader = (res as unknown as { message: AsyncGenerator<number> }).message;
    expect(await reader.next()).toEqual({ done: false, value: 1 });
    const writeFailed = new ConnectError("write after the client left", Code.Canceled);
    await expect(reader.throw(writeFailed)).rejects.toBe(writeFailed);
    expect(state.finished).toBe(true);
    expect(ends).toHaveLength(1);
  });
});

describe("a watch whose client goes away", () => {
  it("always finishes its handler, over HTTP/1.1 and HTTP/2, wherever the client cancels", async () => {
    let started = 0;
    let finished = 0;
    const logs = captureLogs();
    const telemetry = new ServiceTelemetry(
      telemetrySettings({ METRICS_PORT: "0" }, { name: "watcher", port: 50098, host: "127.0.0.1" }),
      logs.logger,
    );
    const server = await startTestServer({
      telemetry,
      http1OnSamePort: true,
      services: [
        implement(OrderService, {
          placeOrder: unused,
          getOrder: unused,
          listOrders: unused,
          cancelOrder: unused,
          // Like order's WatchOrder: the order now, then again after every
          // change (here: every few ms), until the client goes away.
          async *watchOrder(req, ctx) {
            started++;
            try {
              for (;;) {
                yield { order: { id: req.orderId, lines: [{ productName: "x".repeat(2000) }] } };
                await new Promise<void>((resolve) => {
                  const timer = setTimeout(resolve, Math.random() * 4);
                  ctx.signal.addEventListener(
                    "abort",
                    () => {
                      clearTimeout(timer);
                      resolve();
                    },
                    { once: true },
                  );
                });
                if (ctx.signal.aborted) return;
              }
            } finally {
              finished++;
            }
          },
        }),
      ],
    });
    for (const httpVersion of ["1.1", "2"] as const) {
      const client = createClient(OrderService, createConnectTransport({ httpVersion, baseUrl: server.url }));
      await Promise.all(
        Array.from({ length: 40 }, async () => {
          const browser = new AbortController();
          let received = 0;
          try {
            for await (const res of client.watchOrder({ orderId }, { signal: browser.signal })) {
              // Cancel at a random moment after the first message: mid-write, between writes, while waiting.
              if (res.order && ++received === 1)
                setTimeout(() => {
                  browser.abort();
                }, Math.random() * 20);
            }
          } catch (err) {
            expect(ConnectError.from(err).code).toBe(Code.Canceled);
          }
        }),
      );
    }
    await eventually("every handler to finish", () => started === 80 && finished === 80, { timeoutMs: 20_000 });
    await telemetry.shutdown();
  });
});

describe("withHeartbeats", () => {
  const handlerContext = (intervalMs: number, signal = new AbortController().signal) => ({
    signal,
    values: createContextValues().set(heartbeatIntervalKey, intervalMs),
  });

  it("passes the source's messages on and ends with it", async () => {
    const out: unknown[] = [];
    for await (const m of withHeartbeats(
      handlerContext(60_000),
      (async function* () {
        yield* ["a", "b"];
      })(),
      () => "beat",
    ))
      out.push(m);
    expect(out).toEqual(["a", "b"]);
  });

  it("sends heartbeats while the source is quiet, then its next message", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const stream = withHeartbeats(
      handlerContext(20),
      (async function* () {
        yield "first";
        await released;
        yield "second";
      })(),
      () => "beat",
    );
    expect((await stream.next()).value).toBe("first");
    expect((await stream.next()).value).toBe("beat");
    expect((await stream.next()).value).toBe("beat");
    release();
    const rest: unknown[] = [];
    for await (const m of stream) rest.push(m);
    // A heartbeat may still have been due just before the release.
    expect(rest.filter((m) => m !== "beat")).toEqual(["second"]);
  });

  it("passes the source's failure on", async () => {
    const stream = withHeartbeats(
      handlerContext(60_000),
      (async function* () {
        yield 1;
        throw new ConnectError("order not found", Code.NotFound);
      })(),
      () => 0,
    );
    await stream.next();
    await expect(stream.next()).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("ends when the caller goes away, and ends the source", async () => {
    const caller = new AbortController();
    const state = { finished: false };
    const source = (async function* () {
      try {
        yield 1;
        await new Promise<void>((resolve) => {
          caller.signal.addEventListener("abort", () => {
            resolve();
          });
        });
        yield 2;
      } finally {
        state.finished = true;
      }
    })();
    const stream = withHeartbeats(handlerContext(60_000, caller.signal), source, () => 0);
    expect((await stream.next()).value).toBe(1);
    const next = stream.next();
    caller.abort();
    expect(await next).toEqual({ done: true, value: undefined });
    await eventually("the source to be ended", () => state.finished);
  });
});

describe("STREAM_HEARTBEAT_MS", () => {
  it("reaches stream handlers through the server, and a quiet watch sends heartbeats at that pace", async () => {
    const server = await startTestServer({
      streamHeartbeatMs: 30,
      services: [
        implement(OrderService, {
          placeOrder: unused,
          getOrder: unused,
          listOrders: unused,
          cancelOrder: unused,
          watchOrder(req, ctx) {
            type Message = MessageInitShape<typeof WatchOrderResponseSchema>;
            return withHeartbeats<Message>(
              ctx,
              (async function* () {
                yield { order: { id: req.orderId } };
                await new Promise<void>((resolve) => {
                  ctx.signal.addEventListener("abort", () => {
                    resolve();
                  });
                });
              })(),
              () => ({ heartbeat: true }),
            );
          },
        }),
      ],
    });
    const client = createClient(OrderService, createConnectTransport({ httpVersion: "2", baseUrl: server.url }));
    const stop = new AbortController();
    const seen: string[] = [];
    try {
      for await (const res of client.watchOrder({ orderId }, { signal: stop.signal })) {
        seen.push(res.heartbeat ? "heartbeat" : (res.order?.id ?? "?"));
        if (seen.length === 3) stop.abort();
      }
    } catch (err) {
      expect(ConnectError.from(err).code).toBe(Code.Canceled);
    }
    expect(seen).toEqual([orderId, "heartbeat", "heartbeat"]);
  });
});
