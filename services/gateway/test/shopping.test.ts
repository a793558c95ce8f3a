// What the storefront offers a shopper beyond single calls, against the real
// system: listings sorted and numbered by page, a checkout that carries the
// shipping address and contact email through to the order, every product's
// own picture, no source maps, and the live streams: heartbeats on quiet
// watches, and WatchUpdates, one stream per browser for the notifications
// and every order it follows, which ends everything behind it when the
// browser goes away and ends cleanly when the gateway drains.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code } from "@connectrpc/connect";
import { ProductSort } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { NotificationKind } from "@shop/gen/shop/notification/v1/notification_pb";
import { OrderStatus } from "@shop/gen/shop/order/v1/order_pb";
import type { WatchUpdatesResponse } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogSink } from "../../../tests/observability/log-sink.ts";
import { bearer, eventually, startSystem, type Account, type TestSystem } from "../../../tests/support/system.ts";
import { DIST_DIR } from "../src/web-build.ts";
import { accessLogLines } from "./access-log-lines.ts";
import { checkout, failure, overHttp1, SHIPPING_ADDRESS, SLOW_CARD, type Storefront } from "./shopper.ts";

/** Keeps a watched order AWAITING_PAYMENT this long. */
const SLOW_APPROVAL_MS = 4_000;
/** Silence after which every watch sends a heartbeat (STREAM_HEARTBEAT_MS). */
const HEARTBEAT_MS = 250;

let system: TestSystem;
let logs: LogSink;
let shop: Storefront;
let buyer: Account;

beforeAll(async () => {
  logs = new LogSink();
  system = await startSystem(["identity", "catalog", "inventory", "payment", "order", "notification", "gateway"], {
    env: {
      PROCESSOR_SLOW_DELAY_MS: String(SLOW_APPROVAL_MS),
      STREAM_HEARTBEAT_MS: String(HEARTBEAT_MS),
      LOG_LEVEL: "info",
    },
    logs,
  });
  shop = overHttp1(system.url("gateway"));
  buyer = await system.signUp("Shopping Tester");
});

afterAll(async () => {
  await system?.stop();
});

const auth = (account: Account = buyer) => ({ headers: bearer(account.token) });
const ended = (service: "gateway" | "order" | "notification", method: string) =>
  accessLogLines(logs, service, method).map((line) => line.code);

describe("listings", () => {
  it("sort, count every product, and reach any page by number", async () => {
    const all = await shop.listProducts({ categoryId: "kitchen", pageSize: 100, sort: ProductSort.PRICE_LOW_TO_HIGH });
    expect(all.totalSize).toBe(all.products.length);
    const prices = all.products.map((v) => v.product!.price!.amountMinor);
    expect(prices).toEqual([...prices].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const page2 = await shop.listProducts({
      categoryId: "kitchen",
      pageSize: 3,
      skip: 3,
      sort: ProductSort.PRICE_LOW_TO_HIGH,
    });
    expect(page2.products.map((v) => v.product!.id)).toEqual(all.products.slice(3, 6).map((v) => v.product!.id));
    expect(page2.totalSize).toBe(all.totalSize);
    expect(page2.products.every((v) => v.available > 0n)).toBe(true);

    const found = await shop.searchProducts({ query: "steel", sort: ProductSort.PRICE_HIGH_TO_LOW });
    expect(found.totalSize).toBe(found.products.length);
    const foundPrices = found.products.map((v) => v.product!.price!.amountMinor);
    expect(foundPrices).toEqual([...foundPrices].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
  });

  it("refuses an unknown sort or a negative skip, naming the field", async () => {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- a value the enum lacks, on purpose
    expect((await failure(shop.listProducts({ sort: 42 as ProductSort }))).rawMessage).toContain("sort");
    expect((await failure(shop.searchProducts({ query: "kettle", skip: -3 }))).rawMessage).toContain("skip");
  });
});

describe("checkout", () => {
  it("carries the shipping address and contact email to the order and its confirmation", async () => {
    const order = await checkout(shop, buyer.token);
    expect(order.shippingAddress).toMatchObject(SHIPPING_ADDRESS);
    expect(order.contactEmail).toBe(buyer.email); // none given: the account's
    expect(order.lines[0].imageUrl).toMatch(/^\/images\/products\/.+\.svg$/);
    const confirmation = await eventually("the confirmation notification", async () =>
      (await shop.listNotifications({}, auth())).notifications.find(
        (n) => n.orderId === order.id && n.kind === NotificationKind.ORDER_CONFIRMED,
      ),
    );
    expect(confirmation.body).toContain(
      `${SHIPPING_ADDRESS.line1}, ${SHIPPING_ADDRESS.city} ${SHIPPING_ADDRESS.postalCode}`,
    );
    expect(confirmation.body).toContain(buyer.email);
  });

  it("checks the address against the contract, on the storefront's field paths", async () => {
    const { cardToken } = await shop.tokenizeCard(
      { cardNumber: "4242424242424242", expMonth: 12, expYear: 2099, cvc: "123", cardholderName: "T" },
      auth(),
    );
    const err = await failure(
      shop.placeOrder(
        {
          idempotencyKey: "address-check-0001",
          lines: [{ productId: (await shop.listProducts({ pageSize: 1 })).products[0].product!.id, quantity: 1 }],
          cardToken,
          shippingAddress: { ...SHIPPING_ADDRESS, line1: "", countryCode: "de" },
          contactEmail: "nobody@",
        },
        auth(),
      ),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    const fields = err
      .findDetails(ViolationsSchema)
      .flatMap((v) => v.violations.map((x) => x.field?.elements.map((e) => e.fieldName).join(".")));
    expect(new Set(fields)).toEqual(
      new Set(["shipping_address.line1", "shipping_address.country_code", "contact_email"]),
    );
  });
});

describe("the web app's files", () => {
  it("give every product its own picture", async () => {
    const { products } = await shop.listProducts({ pageSize: 100 });
    const pictures = await Promise.all(
      products.map(async (v) => {
        const res = await fetch(`${system.url("gateway")}${v.product!.imageUrl}`);
        expect(res.status, v.product!.imageUrl).toBe(200);
        expect(res.headers.get("content-type")).toBe("image/svg+xml");
        return res.text();
      }),
    );
    expect(new Set(products.map((v) => v.product!.imageUrl)).size).toBe(products.length);
    expect(new Set(pictures).size).toBe(products.length);
    for (const svg of pictures) expect(svg).toMatch(/^<svg[^>]+viewBox="0 0 320 240"/);
  });

  it("publish no source maps", async () => {
    const assets = readdirSync(path.join(DIST_DIR, "assets"));
    expect(assets.filter((f) => f.endsWith(".map"))).toEqual([]);
    for (const script of assets.filter((f) => f.endsWith(".js"))) {
      expect(readFileSync(path.join(DIST_DIR, "assets", script), "utf8")).not.toContain("sourceMappingURL");
      const map = await fetch(`${system.url("gateway")}/assets/${script}.map`);
      expect(map.status).toBe(404);
    }
  });
});

/** Reads a WatchUpdates stream in the background, keeping every message. */
function followUpdates(orderIds: string[], account: Account = buyer) {
  const browser = new AbortController();
  const received: WatchUpdatesResponse[] = [];
  const done = (async () => {
    for await (const res of shop.watchUpdates({ orderIds }, { ...auth(account), signal: browser.signal }))
      received.push(res);
  })().then(
    () => "ended",
    (err: unknown) => err,
  );
  type Update = WatchUpdatesResponse["update"];
  const ofCase = <C extends NonNullable<Update["case"]>>(c: C) =>
    received.flatMap((r) => (r.update.case === c ? [r.update.value as Extract<Update, { case: C }>["value"]] : []));
  const close = () => {
    browser.abort();
  };
  return { received, done, close, ofCase };
}

describe("WatchUpdates", () => {
  it("carries notifications and every followed order on one stream, with heartbeats", async () => {
    const slow = await checkout(shop, buyer.token, SLOW_CARD);
    const quick = await checkout(shop, buyer.token);
    const updates = followUpdates([slow.id, quick.id]);
    try {
      await eventually("both orders CONFIRMED and both confirmations", () => {
        const confirmed = new Set(
          updates
            .ofCase("order")
            .filter((o) => o.status === OrderStatus.CONFIRMED)
            .map((o) => o.id),
        );
        const notified = new Set(
          updates
            .ofCase("notification")
            .filter((n) => n.kind === NotificationKind.ORDER_CONFIRMED)
            .map((n) => n.orderId),
        );
        return [slow.id, quick.id].every((id) => confirmed.has(id) && (notified.has(id) || id === quick.id));
      });
      // The first heartbeat comes once notifications are followed, so before any notification.
      const firstHeartbeat = updates.received.findIndex((r) => r.update.case === "heartbeat");
      const firstNotification = updates.received.findIndex((r) => r.update.case === "notification");
      expect(firstHeartbeat).toBeGreaterThanOrEqual(0);
      expect(firstHeartbeat).toBeLessThan(firstNotification);
      // The slow order was seen waiting for payment before it was confirmed.
      expect(
        updates
          .ofCase("order")
          .filter((o) => o.id === slow.id)
          .map((o) => o.status),
      ).toContain(OrderStatus.AWAITING_PAYMENT);
      // Both orders are done, but the stream stays open (notifications may still come), beating.
      const count = updates.received.length;
      await eventually("a heartbeat after the orders ended", () =>
        updates.received.slice(count).some((r) => r.update.case === "heartbeat"),
      );
    } finally {
      updates.close();
    }
    expect(await updates.done).toMatchObject({ code: Code.Canceled });
  });

  it("says once that someone else's order cannot be followed, and keeps following the rest", async () => {
    const stranger = await system.signUp("Stranger");
    const theirs = await checkout(shop, stranger.token);
    const mine = await checkout(shop, buyer.token);
    const updates = followUpdates([theirs.id, mine.id]);
    try {
      await eventually("my order's update", () => updates.ofCase("order").some((o) => o.id === mine.id));
      await eventually("the unknown order reported", () => updates.ofCase("orderNotFound").length > 0);
      expect(updates.ofCase("orderNotFound")).toEqual([theirs.id]);
      expect(updates.ofCase("order").some((o) => o.id === theirs.id)).toBe(false);
    } finally {
      updates.close();
    }
  });

  it("checks the order ids against the contract", async () => {
    const tooMany = Array.from({ length: 21 }, () => crypto.randomUUID());
    const many = followUpdates(tooMany);
    expect(await many.done).toMatchObject({ code: Code.InvalidArgument });
    const bad = followUpdates(["not-an-id"]);
    const err = await bad.done;
    expect(err).toMatchObject({ code: Code.InvalidArgument });
    expect((err as Error).message).toContain("order_ids[0]");
  });

  it("needs a signed-in shopper", async () => {
    const anonymous = (async () => {
      for await (const res of shop.watchUpdates({ orderIds: [] })) expect(res).toBeUndefined();
    })();
    await expect(anonymous).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("ends every watch behind it when the browser goes away", async () => {
    const order = await checkout(shop, buyer.token, SLOW_CARD);
    const before = {
      gateway: ended("gateway", "WatchUpdates").length,
      order: ended("order", "WatchOrder").length,
      notification: ended("notification", "WatchNotifications").length,
    };
    const updates = followUpdates([order.id]);
    await eventually(
      "the order and the first heartbeat",
      () => updates.ofCase("order").length > 0 && updates.ofCase("heartbeat").length > 0,
    );
    updates.close();
    await eventually(
      "the gateway, order and notification to end their calls",
      () =>
        ended("gateway", "WatchUpdates").length === before.gateway + 1 &&
        ended("order", "WatchOrder").length === before.order + 1 &&
        ended("notification", "WatchNotifications").length === before.notification + 1,
    );
    expect(ended("gateway", "WatchUpdates").at(-1)).toBe("canceled");
    expect(ended("order", "WatchOrder").at(-1)).toBe("canceled");
    expect(ended("notification", "WatchNotifications").at(-1)).toBe("canceled");
    const { order: now } = await shop.getOrder({ orderId: order.id }, auth());
    expect(now?.status).toBe(OrderStatus.AWAITING_PAYMENT); // ended by the browser, not by the order
  });
});

describe("the relayed watches", () => {
  it("beat while the order waits, then carry the change", async () => {
    const order = await checkout(shop, buyer.token, SLOW_CARD);
    const seen: string[] = [];
    for await (const res of shop.watchOrder({ orderId: order.id }, auth()))
      seen.push(res.heartbeat ? "heartbeat" : OrderStatus[res.order!.status]);
    expect(seen).toContain("heartbeat");
    expect(seen.indexOf("heartbeat")).toBeLessThan(seen.indexOf("CONFIRMED"));
    expect(seen.at(-1)).toBe("CONFIRMED");
  });

  it("start the notification watch with a heartbeat", async () => {
    const stop = new AbortController();
    let first: { heartbeat: boolean } | undefined;
    try {
      for await (const res of shop.watchNotifications({}, { ...auth(), signal: stop.signal })) {
        first = res;
        stop.abort();
      }
    } catch (err) {
      expect(err).toMatchObject({ code: Code.Canceled });
    }
    expect(first?.heartbeat).toBe(true);
  });
});

describe("the gateway drains", () => {
  // Last: it stops the gateway.
  it("ends an open WatchUpdates cleanly and promptly", async () => {
    const order = await checkout(shop, buyer.token, SLOW_CARD);
    const updates = followUpdates([order.id]);
    await eventually(
      "the first messages",
      () => updates.ofCase("order").length > 0 && updates.ofCase("heartbeat").length > 0,
    );
    const started = Date.now();
    await system.stopService("gateway");
    expect(await updates.done).toBe("ended");
    expect(Date.now() - started).toBeLessThan(5_000); // not held up until the drain timeout (10 s)
  });
});
