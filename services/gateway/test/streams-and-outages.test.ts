// The gateway when something around it goes away, against the real system:
// a browser closing its watch (the gateway's watch on order is cancelled
// too), a service behind it that is down (Unavailable with a generic
// message), and the gateway itself draining for shutdown (open watches end
// cleanly, so the web app simply watches again through another replica).
// A system of its own: the slow test card keeps orders AWAITING_PAYMENT while
// they are watched, and the tests stop services one by one, the gateway last.
import { Code } from "@connectrpc/connect";
import { OrderStatus } from "@shop/gen/shop/order/v1/order_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogSink } from "../../../tests/observability/log-sink.ts";
import { bearer, eventually, startSystem, type Account, type TestSystem } from "../../../tests/support/system.ts";
import { GENERIC_UNAVAILABLE_MESSAGE } from "../src/downstream-errors.ts";
import { accessLogLines } from "./access-log-lines.ts";
import { checkout, failure, overHttp1, SLOW_CARD, type Storefront } from "./shopper.ts";

/** Long enough that a watched order is still AWAITING_PAYMENT when a test ends its watch. */
const SLOW_APPROVAL_MS = 5_000;

let system: TestSystem;
let logs: LogSink;
let buyer: Account;
let url: string;
let http1: Storefront;

beforeAll(async () => {
  logs = new LogSink();
  system = await startSystem(["identity", "catalog", "inventory", "payment", "order", "notification", "gateway"], {
    env: { PROCESSOR_SLOW_DELAY_MS: String(SLOW_APPROVAL_MS), LOG_LEVEL: "info" },
    logs,
  });
  url = system.url("gateway");
  http1 = overHttp1(url);
  buyer = await system.signUp("Patient Buyer");
});

afterAll(async () => {
  await system?.stop();
});

const terminal = (status: OrderStatus | undefined) =>
  status === OrderStatus.CONFIRMED || status === OrderStatus.CANCELLED;
/** How the gateway's own WatchOrder calls ended, from its access log. */
const gatewayWatches = () => accessLogLines(logs, "gateway", "WatchOrder").map((line) => line.code);
const orderWatches = () => accessLogLines(logs, "order", "WatchOrder").map((line) => line.code);

describe("a long watch", () => {
  it("ends at the gateway when the browser goes away, long before the order does", async () => {
    const order = await checkout(http1, buyer.token, SLOW_CARD);
    const before = gatewayWatches().length;
    const ordersBefore = orderWatches().length;
    const browser = new AbortController();
    const watch = http1.watchOrder({ orderId: order.id }, { headers: bearer(buyer.token), signal: browser.signal });
    const stream = watch[Symbol.asyncIterator]();
    const first = await stream.next();
    if (first.done) throw new Error("WatchOrder ended before its first message");
    expect(first.value.order?.id).toBe(order.id);
    expect(terminal(first.value.order?.status)).toBe(false);

    browser.abort();
    await expect(stream.next()).rejects.toMatchObject({ code: Code.Canceled });
    // Had the relay kept waiting on order, the call would end "ok" only once the order is CONFIRMED.
    await eventually("the gateway to end the relay", () => gatewayWatches().length === before + 1, {
      timeoutMs: SLOW_APPROVAL_MS / 2,
    });
    expect(gatewayWatches().at(-1)).toBe("canceled");
    // And so does the watch it relayed, on order.
    await eventually("order to end the watch behind", () => orderWatches().length === ordersBefore + 1, {
      timeoutMs: SLOW_APPROVAL_MS / 2,
    });
    expect(orderWatches().at(-1)).toBe("canceled");
    const { order: now } = await http1.getOrder({ orderId: order.id }, { headers: bearer(buyer.token) });
    expect(terminal(now?.status)).toBe(false); // it ended because of the browser, not the order
  });
});

describe("a service behind the gateway is down", () => {
  it("is Unavailable with a generic message: no address, no stack, nothing internal", async () => {
    const auth = { headers: bearer(buyer.token) };
    await http1.listNotifications({}, auth); // works while notification is up
    const notificationPort = new URL(system.url("notification")).port;
    await system.stopService("notification");

    const err = await failure(http1.listNotifications({}, auth));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe(GENERIC_UNAVAILABLE_MESSAGE);
    expect(err.details).toEqual([]);

    // What a browser receives, byte for byte.
    const res = await fetch(`${url}/shop.storefront.v1.StorefrontService/ListNotifications`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${buyer.token}` },
      body: "{}",
    });
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({ code: "unavailable", message: GENERIC_UNAVAILABLE_MESSAGE });
    for (const leak of ["127.0.0.1", notificationPort, "ECONNREFUSED", "notification", " at "])
      expect(body).not.toContain(leak);

    // The detail stays in the gateway's log, for us.
    const logged = logs
      .records()
      .filter((r) => r.service === "gateway" && r.msg === "a downstream service is unavailable");
    expect(logged.at(-1)).toMatchObject({ procedure: "/shop.storefront.v1.StorefrontService/ListNotifications" });
    expect(String(logged.at(-1)?.err)).toContain(notificationPort);

    // Everything that does not need notification keeps working.
    const { orders } = await http1.listOrders({}, auth);
    expect(orders.length).toBeGreaterThan(0);
  });
});

describe("the gateway drains", () => {
  // Last: it stops the gateway.
  it("ends an open watch cleanly and promptly", async () => {
    const order = await checkout(http1, buyer.token, SLOW_CARD);
    const statuses: OrderStatus[] = [];
    const watching = (async () => {
      for await (const res of http1.watchOrder({ orderId: order.id }, { headers: bearer(buyer.token) }))
        if (res.order) statuses.push(res.order.status);
    })().then(
      () => "ended cleanly",
      (err: unknown) => err,
    );
    await eventually("the first message of the watch", () => statuses.length > 0);

    const started = Date.now();
    await system.stopService("gateway");
    expect(await watching).toBe("ended cleanly"); // no error at all, so nothing internal to leak
    expect(Date.now() - started).toBeLessThan(5_000); // not held up until the drain timeout (10 s)
    expect(terminal(statuses.at(-1))).toBe(false); // ended by the drain, not by the order
    expect(gatewayWatches().at(-1)).toBe("ok");
  });
});
