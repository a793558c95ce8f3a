// The order service against real identity and catalog, real Postgres and
// JetStream. Inventory and payment are driven from here: the test publishes
// their events the way their relays would and watches what order publishes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, createHandlerContext, type Client } from "@connectrpc/connect";
import { inArray, sql } from "drizzle-orm";
import postgres from "postgres";
import { CatalogService, type Product } from "@shop/gen/shop/catalog/v1/catalog_pb";
import {
  StockCommittedSchema,
  StockRejectedSchema,
  StockRejectionReason,
  StockReservedSchema,
} from "@shop/gen/shop/inventory/v1/events_pb";
import { OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import {
  CancellationReason,
  OrderService,
  OrderStatus,
  TimelineEventKind,
  WatchOrderRequestSchema,
  type Order,
  type ShippingAddressSchema,
} from "@shop/gen/shop/order/v1/order_pb";
import { PaymentCapturedSchema, PaymentFailedSchema, PaymentRefundedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { PaymentFailureReason } from "@shop/gen/shop/payment/v1/payment_pb";
import { closeDatabase, openDatabase } from "@shop/runtime/db/database";
import { EventBus } from "@shop/runtime/events/bus";
import { principalKey } from "@shop/runtime/interceptors/auth";
import {
  bearer,
  eventually,
  NATS_URL,
  startSystem,
  uniqueId,
  type Account,
  type TestSystem,
} from "../../../tests/support/system.ts";
import { OrderAdmission, type AdmissionLimits } from "../src/order-admission.ts";
import { OrderChangeFeed } from "../src/order-change-feed.ts";
import * as schema from "../src/schema.ts";
import { watchOrder } from "../src/watch-order.ts";
import { LogSink } from "../../../tests/observability/log-sink.ts";
import { OrderEventLog, orderCaughtUp, publishEvent } from "./event-traffic.ts";

let system: TestSystem;
let bus: EventBus;
let log: OrderEventLog;
let orders: Client<typeof OrderService>;
let catalog: Client<typeof CatalogService>;
let products: Product[];
let alice: Account;
let bob: Account;
const logs = new LogSink();

/** How order's WatchOrder calls ended so far, from its access log (a line when a call ends). */
const watchEnds = () =>
  logs
    .records()
    .filter((r) => r.service === "order" && r.msg === "rpc" && (r.rpc as { method: string }).method === "WatchOrder")
    .map((r) => r.code as string);

const auth = (account: Account | string) => ({
  headers: bearer(typeof account === "string" ? account : account.token),
});

async function codeOf(call: Promise<unknown> | (() => Promise<unknown>)): Promise<{ code: Code; message: string }> {
  try {
    await (typeof call === "function" ? call() : call);
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, message: e.rawMessage };
  }
  throw new Error("expected the call to fail");
}

function place(
  account: Account,
  lines: { productId: string; quantity: number }[],
  options: {
    key?: string;
    cardToken?: string;
    shippingAddress?: MessageInitShape<typeof ShippingAddressSchema>;
    contactEmail?: string;
  } = {},
) {
  return orders
    .placeOrder(
      {
        idempotencyKey: options.key ?? uniqueId("key"),
        lines,
        cardToken: options.cardToken ?? "tok_visa_approve",
        shippingAddress: options.shippingAddress,
        contactEmail: options.contactEmail,
      },
      auth(account),
    )
    .then((r) => r.order!);
}

const ADDRESS = {
  name: "Alice Example",
  line1: "12 Harbour Road",
  line2: "Flat 3",
  city: "Dublin",
  postalCode: "D02 X285",
  region: "",
  countryCode: "IE",
};

/** Every order of a watch, skipping heartbeats. */
async function* ordersOf(stream: AsyncIterable<{ order?: Order; heartbeat: boolean }>): AsyncGenerator<Order> {
  for await (const res of stream) if (!res.heartbeat) yield res.order!;
}

/** Heartbeats arrive after this much silence on a watch (the system's STREAM_HEARTBEAT_MS). */
const HEARTBEAT_MS = 300;

async function get(orderId: string, account: Account | string = alice): Promise<Order> {
  return (await orders.getOrder({ orderId }, auth(account))).order!;
}

/** Waits until the order satisfies `check` (the consumer applies events asynchronously). */
function orderWhen(
  orderId: string,
  what: string,
  check: (o: Order) => boolean,
  account: Account = alice,
): Promise<Order> {
  return eventually(what, async () => {
    const order = await get(orderId, account);
    return check(order) ? order : undefined;
  });
}

/** Reads order's own database (the outbox), to count what a placement wrote. */
async function orderPlacedRows(orderId: string): Promise<number> {
  const sql = postgres(system.databaseUrl("order"), { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<
      { payload: Uint8Array }[]
    >`select payload from outbox where event_type = ${OrderPlacedSchema.typeName}`;
    return rows.filter((r) => fromBinary(OrderPlacedSchema, r.payload).orderId === orderId).length;
  } finally {
    await sql.end();
  }
}

const reserved = (order: Order) =>
  publishEvent(bus, StockReservedSchema, {
    orderId: order.id,
    userId: order.userId,
    lines: order.lines.map((l) => ({ productId: l.productId, quantity: BigInt(l.quantity) })),
    amount: order.total,
    cardToken: "tok_visa_approve",
  });
const captured = (order: Order, options = {}) =>
  publishEvent(
    bus,
    PaymentCapturedSchema,
    { paymentId: uniqueId("pay"), orderId: order.id, amount: order.total },
    options,
  );

beforeAll(async () => {
  system = await startSystem(["identity", "catalog", "order"], {
    // No inventory here: orders stay PENDING, a backlog that never finishes,
    // which the default admission would refuse after ORDER_MIN_IN_SAGA.
    env: { STREAM_HEARTBEAT_MS: String(HEARTBEAT_MS), LOG_LEVEL: "info", ORDER_TARGET_WAIT_MS: "0" },
    logs,
  });
  bus = await EventBus.connect({ servers: NATS_URL, naming: system.naming });
  log = await OrderEventLog.open(bus);
  orders = system.client(OrderService);
  catalog = system.client(CatalogService);
  products = (await catalog.listProducts({ pageSize: 5 })).products;
  alice = await system.signUp("Alice");
  bob = await system.signUp("Bob");
});

afterAll(async () => {
  await log?.close();
  await bus?.close();
  await system?.stop();
});

describe("PlaceOrder", () => {
  it("stores the order PENDING, priced from the catalog, and publishes OrderPlaced", async () => {
    const [a, b] = products;
    const order = await place(
      alice,
      [
        { productId: a.id, quantity: 2 },
        { productId: b.id, quantity: 1 },
      ],
      { cardToken: "tok_card_1" },
    );

    expect(order.status).toBe(OrderStatus.PENDING);
    expect(order.userId).toBe(alice.userId);
    expect(
      order.lines.map((l) => [
        l.productId,
        l.productName,
        l.quantity,
        l.unitPrice?.amountMinor,
        l.lineTotal?.amountMinor,
      ]),
    ).toEqual([
      [a.id, a.name, 2, a.price!.amountMinor, a.price!.amountMinor * 2n],
      [b.id, b.name, 1, b.price!.amountMinor, b.price!.amountMinor],
    ]);
    expect(order.lines.map((l) => l.imageUrl)).toEqual([a.imageUrl, b.imageUrl]);
    expect(a.imageUrl).not.toBe("");
    expect(order.total).toMatchObject({
      currencyCode: a.price!.currencyCode,
      amountMinor: a.price!.amountMinor * 2n + b.price!.amountMinor,
    });
    expect(order.timeline.map((t) => [t.status, t.kind])).toEqual([[OrderStatus.PENDING, TimelineEventKind.PLACED]]);

    const [placed] = await eventually("OrderPlaced", () =>
      log.of("shop.order.v1.OrderPlaced", order.id).length ? log.of("shop.order.v1.OrderPlaced", order.id) : undefined,
    );
    expect(placed.userId).toBe(alice.userId);
    expect(placed.cardToken).toBe("tok_card_1");
    expect(placed.total).toEqual(order.total);
    expect(placed.lines).toEqual(order.lines);
    expect(placed.placedAt).toBeDefined();
  });

  it("answers a retry with the same key and request with the same order, once, even concurrently", async () => {
    const key = uniqueId("key");
    const lines = [{ productId: products[0].id, quantity: 1 }];
    const attempts = await Promise.all(Array.from({ length: 6 }, () => place(alice, lines, { key })));
    const ids = new Set(attempts.map((o) => o.id));
    expect(ids.size).toBe(1);
    const again = await place(alice, [...lines], { key });
    expect(again.id).toBe(attempts[0].id);
    expect(await orderPlacedRows(again.id)).toBe(1);
  });

  it("treats the same lines listed in another order as the same request", async () => {
    const key = uniqueId("key");
    const first = await place(
      alice,
      [
        { productId: products[0].id, quantity: 1 },
        { productId: products[1].id, quantity: 2 },
      ],
      { key },
    );
    const second = await place(
      alice,
      [
        { productId: products[1].id, quantity: 2 },
        { productId: products[0].id, quantity: 1 },
      ],
      { key },
    );
    expect(second.id).toBe(first.id);
  });

  it("refuses the same key with a different request (FailedPrecondition), lines or card alike", async () => {
    const key = uniqueId("key");
    await place(alice, [{ productId: products[0].id, quantity: 1 }], { key });
    for (const attempt of [
      () => place(alice, [{ productId: products[0].id, quantity: 2 }], { key }),
      () => place(alice, [{ productId: products[0].id, quantity: 1 }], { key, cardToken: "tok_other" }),
    ]) {
      expect(await codeOf(attempt)).toEqual({
        code: Code.FailedPrecondition,
        message: "idempotency_key was already used for a different order",
      });
    }
  });

  it("stores the shipping address and contact email; the email defaults to the account's", async () => {
    const withAddress = await place(alice, [{ productId: products[0].id, quantity: 1 }], {
      shippingAddress: { ...ADDRESS, name: "  Alice Example " },
      contactEmail: "orders@alice.example",
    });
    expect(withAddress.shippingAddress).toMatchObject(ADDRESS); // trimmed
    expect(withAddress.contactEmail).toBe("orders@alice.example");
    expect((await get(withAddress.id)).shippingAddress).toMatchObject(ADDRESS);

    const withoutEmail = await place(alice, [{ productId: products[0].id, quantity: 1 }], {
      shippingAddress: ADDRESS,
    });
    expect(withoutEmail.contactEmail).toBe(alice.email);
    const bare = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    expect(bare.shippingAddress).toBeUndefined();
    expect(bare.contactEmail).toBe(alice.email);
  });

  it("counts the address and the email as part of the request a key stands for", async () => {
    const key = uniqueId("key");
    const lines = [{ productId: products[0].id, quantity: 1 }];
    const first = await place(alice, lines, { key, shippingAddress: ADDRESS });
    expect((await place(alice, lines, { key, shippingAddress: ADDRESS })).id).toBe(first.id);
    for (const attempt of [
      () => place(alice, lines, { key, shippingAddress: { ...ADDRESS, city: "Cork" } }),
      () => place(alice, lines, { key, shippingAddress: ADDRESS, contactEmail: "other@alice.example" }),
      () => place(alice, lines, { key }),
    ]) {
      expect((await codeOf(attempt)).code).toBe(Code.FailedPrecondition);
    }
  });

  it("refuses an incomplete address or a bad email, naming the field (InvalidArgument)", async () => {
    const lines = [{ productId: products[0].id, quantity: 1 }];
    const noCity = await codeOf(place(alice, lines, { shippingAddress: { ...ADDRESS, city: "  " } }));
    expect(noCity.code).toBe(Code.InvalidArgument);
    expect(noCity.message).toContain("shipping_address.city");
    const country = await codeOf(place(alice, lines, { shippingAddress: { ...ADDRESS, countryCode: "Ireland" } }));
    expect(country.message).toContain("shipping_address.country_code");
    const email = await codeOf(place(alice, lines, { shippingAddress: ADDRESS, contactEmail: "alice at home" }));
    expect(email.message).toContain("contact_email");
  });

  it("keys are per customer: another customer's key does not collide", async () => {
    const key = uniqueId("key");
    const a = await place(alice, [{ productId: products[0].id, quantity: 1 }], { key });
    const b = await place(bob, [{ productId: products[0].id, quantity: 3 }], { key });
    expect(b.id).not.toBe(a.id);
    expect(b.userId).toBe(bob.userId);
  });

  it("names unknown products (NotFound) and stores nothing", async () => {
    const customer = await system.signUp();
    const missing = "019b0000-0000-7000-8000-000000000001";
    const failure = await codeOf(
      place(customer, [
        { productId: products[0].id, quantity: 1 },
        { productId: missing, quantity: 1 },
      ]),
    );
    expect(failure.code).toBe(Code.NotFound);
    expect(failure.message).toContain(missing);
    expect((await orders.listOrders({}, auth(customer))).orders).toEqual([]);
  });

  it("refuses products priced in different currencies (InvalidArgument)", async () => {
    const admin = await system.adminToken();
    const { product: dollars } = await catalog.createProduct(
      {
        sku: uniqueId("USD").toUpperCase().replace(/_/g, "-"),
        name: "Imported mug",
        categoryId: products[0].categoryId,
        price: { currencyCode: "USD", amountMinor: 1200n },
      },
      auth(admin),
    );
    const failure = await codeOf(
      place(alice, [
        { productId: products[0].id, quantity: 1 },
        { productId: dollars!.id, quantity: 1 },
      ]),
    );
    expect(failure.code).toBe(Code.InvalidArgument);
    expect(failure.message).toMatch(/^lines: .*different currencies/);
  });

  it("needs a signed-in caller", async () => {
    const failure = await codeOf(
      orders.placeOrder({
        idempotencyKey: uniqueId("key"),
        lines: [{ productId: products[0].id, quantity: 1 }],
        cardToken: "tok",
      }),
    );
    expect(failure.code).toBe(Code.Unauthenticated);
  });
});

describe("admission control", () => {
  const limits = (set: Partial<AdmissionLimits>): AdmissionLimits => ({
    maxPlacing: 0,
    maxInSaga: 0,
    targetWaitMs: 0,
    minInSaga: 0,
    maxLagging: 0,
    lagMs: 1,
    sampleMs: 0,
    ...set,
  });

  it("refuses new orders (ResourceExhausted, retryable) past the saga backlog or the placing limit, and lets the rest through", async () => {
    const db = await openDatabase({ url: system.databaseUrl("order"), schema });
    try {
      // Orders here stay PENDING (no inventory runs): each one placed adds to the backlog.
      const [{ n }] = await db
        .select({ n: sql<number>`count(*)::int` })
        .from(schema.orders)
        .where(sql`${schema.orders.deadlineAt} is not null`);
      const backlog = new OrderAdmission(db, limits({ maxInSaga: n + 2 }));
      const admitted = () => backlog.admit(() => place(alice, [{ productId: products[0].id, quantity: 1 }]));
      await admitted();
      await admitted();
      const refused = await codeOf(admitted);
      expect(refused.code).toBe(Code.ResourceExhausted);
      expect(refused.message).toMatch(/busy.*nothing was placed, try again/);

      const placing = new OrderAdmission(db, limits({ maxPlacing: 1 }));
      let finish = () => {};
      const first = placing.admit(() => new Promise<void>((resolve) => (finish = resolve)));
      expect((await codeOf(() => placing.admit(() => Promise.resolve()))).code).toBe(Code.ResourceExhausted);
      finish();
      await first;
      await placing.admit(() => Promise.resolve());

      // Orders that have waited longer than lagMs: the saga is behind; refused while more than maxLagging do.
      await new Promise((r) => setTimeout(r, 50));
      const lagging = new OrderAdmission(db, limits({ maxLagging: 1, lagMs: 10 }));
      expect((await codeOf(() => lagging.admit(() => Promise.resolve()))).message).toMatch(/waiting longer than usual/);
      const patient = new OrderAdmission(db, limits({ maxLagging: 1, lagMs: 600_000 }));
      await patient.admit(() => Promise.resolve());
    } finally {
      await closeDatabase(db);
    }
  });

  it("lets the backlog grow to what the saga finishes in targetWaitMs at its recent rate, never below minInSaga", async () => {
    const db = await openDatabase({ url: system.databaseUrl("order"), schema });
    // The rate is measured over a window of database time: half of it must pass.
    const aWindowLater = () => new Promise((resolve) => setTimeout(resolve, 1_700));
    try {
      // Orders here stay PENDING (no inventory runs): a backlog that finishes nothing.
      await place(alice, [{ productId: products[0].id, quantity: 1 }]);
      const stuck = new OrderAdmission(db, limits({ targetWaitMs: 1_000 }));
      const floored = new OrderAdmission(db, limits({ targetWaitMs: 1_000, minInSaga: 100_000 }));
      await Promise.all([stuck.refresh(), floored.refresh()]);
      await aWindowLater();
      await Promise.all([stuck.refresh(), floored.refresh()]);
      const refused = await codeOf(() => stuck.admit(() => Promise.resolve()));
      expect(refused.code).toBe(Code.ResourceExhausted);
      expect(refused.message).toMatch(/longer than they should/);
      await floored.admit(() => Promise.resolve());

      // The saga finishing orders makes room: three finished in ~1.7 s is a
      // rate that empties the backlog well within an hour.
      const finishing = new OrderAdmission(db, limits({ targetWaitMs: 3_600_000 }));
      const mine = [];
      for (let i = 0; i < 3; i++) mine.push((await place(alice, [{ productId: products[0].id, quantity: 1 }])).id);
      await finishing.refresh();
      await db
        .update(schema.orders)
        .set({ status: "CONFIRMED", deadlineAt: null })
        .where(inArray(schema.orders.id, mine));
      await aWindowLater();
      await finishing.refresh();
      await finishing.admit(() => Promise.resolve());
    } finally {
      await closeDatabase(db);
    }
  });
});

describe("the saga", () => {
  it("StockReserved → AWAITING_PAYMENT, PaymentCaptured → CONFIRMED + OrderConfirmed, StockCommitted → timeline", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }], { shippingAddress: ADDRESS });
    await reserved(order);
    await orderWhen(order.id, "AWAITING_PAYMENT", (o) => o.status === OrderStatus.AWAITING_PAYMENT);
    await captured(order);
    const confirmed = await orderWhen(order.id, "CONFIRMED", (o) => o.status === OrderStatus.CONFIRMED);
    expect(confirmed.timeline.map((t) => [t.status, t.kind, t.description])).toEqual([
      [OrderStatus.PENDING, TimelineEventKind.PLACED, "order placed; waiting for stock to be reserved"],
      [OrderStatus.AWAITING_PAYMENT, TimelineEventKind.STOCK_RESERVED, "stock reserved; waiting for payment"],
      [OrderStatus.CONFIRMED, TimelineEventKind.PAYMENT_CAPTURED, "payment captured; order confirmed"],
    ]);
    const [event] = await eventually("OrderConfirmed", () =>
      log.of("shop.order.v1.OrderConfirmed", order.id).length
        ? log.of("shop.order.v1.OrderConfirmed", order.id)
        : undefined,
    );
    expect(event).toMatchObject({ userId: alice.userId, total: order.total, contactEmail: alice.email });
    expect(event.shippingAddress).toMatchObject(ADDRESS);

    await publishEvent(bus, StockCommittedSchema, { orderId: order.id, lines: [] });
    const committed = await orderWhen(order.id, "stock committed entry", (o) => o.timeline.length === 4);
    expect(committed.status).toBe(OrderStatus.CONFIRMED);
    expect(committed.timeline.at(-1)).toMatchObject({
      status: OrderStatus.CONFIRMED,
      kind: TimelineEventKind.STOCK_COMMITTED,
      description: "reserved stock committed",
    });
  });

  it("StockRejected → CANCELLED (OUT_OF_STOCK) naming the missing items, + OrderCancelled", async () => {
    const order = await place(alice, [{ productId: products[2].id, quantity: 5 }]);
    await publishEvent(bus, StockRejectedSchema, {
      orderId: order.id,
      reason: StockRejectionReason.INSUFFICIENT_STOCK,
      unavailable: [{ productId: products[2].id, quantity: 3n }],
    });
    const cancelled = await orderWhen(order.id, "CANCELLED", (o) => o.status === OrderStatus.CANCELLED);
    expect(cancelled.cancellationReason).toBe(CancellationReason.OUT_OF_STOCK);
    expect(cancelled.cancellationDetail).toBe(`not enough stock: ${products[2].name} (5 ordered, 3 available)`);
    expect(cancelled.paymentFailureReason).toBe(PaymentFailureReason.UNSPECIFIED);
    expect(cancelled.timeline.at(-1)?.kind).toBe(TimelineEventKind.STOCK_REJECTED);
    const [event] = await eventually("OrderCancelled", () =>
      log.of("shop.order.v1.OrderCancelled", order.id).length
        ? log.of("shop.order.v1.OrderCancelled", order.id)
        : undefined,
    );
    expect(event).toMatchObject({
      userId: alice.userId,
      reason: CancellationReason.OUT_OF_STOCK,
      detail: cancelled.cancellationDetail,
    });
  });

  it("PaymentFailed → CANCELLED (PAYMENT_FAILED) with the reason, + OrderCancelled", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    await reserved(order);
    await orderWhen(order.id, "AWAITING_PAYMENT", (o) => o.status === OrderStatus.AWAITING_PAYMENT);
    await publishEvent(bus, PaymentFailedSchema, {
      paymentId: uniqueId("pay"),
      orderId: order.id,
      userId: alice.userId,
      reason: PaymentFailureReason.CARD_DECLINED,
    });
    const cancelled = await orderWhen(order.id, "CANCELLED", (o) => o.status === OrderStatus.CANCELLED);
    expect(cancelled).toMatchObject({
      cancellationReason: CancellationReason.PAYMENT_FAILED,
      cancellationDetail: "card declined",
      paymentFailureReason: PaymentFailureReason.CARD_DECLINED,
    });
    expect(cancelled.timeline.at(-1)).toMatchObject({
      status: OrderStatus.CANCELLED,
      kind: TimelineEventKind.PAYMENT_FAILED,
      description: "cancelled: card declined",
    });
    await eventually("OrderCancelled", () =>
      log
        .of("shop.order.v1.OrderCancelled", order.id)
        .some((e) => e.reason === CancellationReason.PAYMENT_FAILED && e.detail === "card declined"),
    );
  });

  it("replayed and duplicated events change nothing", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    const reservedId = await reserved(order);
    await orderWhen(order.id, "AWAITING_PAYMENT", (o) => o.status === OrderStatus.AWAITING_PAYMENT);
    const capturedId = await captured(order);
    const confirmed = await orderWhen(order.id, "CONFIRMED", (o) => o.status === OrderStatus.CONFIRMED);

    // The very same events again (past JetStream's de-duplication): the inbox drops them.
    await publishEvent(
      bus,
      StockReservedSchema,
      { orderId: order.id, userId: order.userId },
      { eventId: reservedId, msgId: uniqueId("replay") },
    );
    await captured(order, { eventId: capturedId, msgId: uniqueId("replay") });
    await eventually("order consumers caught up", () => orderCaughtUp(bus));
    expect(await get(order.id)).toEqual(confirmed);

    // The same facts under new event ids: noted on the timeline, nothing else.
    await reserved(order);
    await captured(order);
    const noted = await orderWhen(order.id, "two notes", (o) => o.timeline.length === confirmed.timeline.length + 2);
    expect(noted.status).toBe(OrderStatus.CONFIRMED);
    expect(noted.timeline.slice(-2).map((t) => t.kind)).toEqual([
      TimelineEventKind.LATE_EVENT_IGNORED,
      TimelineEventKind.LATE_EVENT_IGNORED,
    ]);
    expect(
      noted.timeline
        .slice(-2)
        .map((t) => t.description)
        .sort(),
    ).toEqual([
      "ignored payment capture: the order is already CONFIRMED",
      "ignored stock reservation: the order is already CONFIRMED",
    ]);
    await eventually("order consumers caught up", () => orderCaughtUp(bus));
    expect(log.of("shop.order.v1.OrderConfirmed", order.id)).toHaveLength(1);
  });

  it("a payment captured after the order was cancelled is noted and does not confirm it", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    await orders.cancelOrder({ orderId: order.id }, auth(alice));
    await captured(order);
    const noted = await orderWhen(order.id, "note", (o) =>
      o.timeline.some((t) => t.description.startsWith("ignored payment capture")),
    );
    expect(noted.status).toBe(OrderStatus.CANCELLED);
    expect(noted.cancellationReason).toBe(CancellationReason.CUSTOMER_REQUESTED);
    await publishEvent(bus, PaymentRefundedSchema, {
      paymentId: uniqueId("pay"),
      orderId: order.id,
      amount: order.total,
    });
    await orderWhen(order.id, "refund entry", (o) => o.timeline.at(-1)?.description === "payment refunded");
    await eventually("order consumers caught up", () => orderCaughtUp(bus));
    expect(log.of("shop.order.v1.OrderConfirmed", order.id)).toHaveLength(0);
  });

  it("a payment outcome that overtakes the stock reservation still confirms the order", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    await captured(order);
    await orderWhen(order.id, "CONFIRMED", (o) => o.status === OrderStatus.CONFIRMED);
    await reserved(order);
    const late = await orderWhen(
      order.id,
      "late reservation noted",
      (o) => o.timeline.at(-1)?.description.startsWith("ignored stock reservation") ?? false,
    );
    expect(late.status).toBe(OrderStatus.CONFIRMED);
  });
});

describe("CancelOrder", () => {
  it("cancels a PENDING or AWAITING_PAYMENT order (CUSTOMER_REQUESTED) + OrderCancelled; again returns it unchanged", async () => {
    const pending = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    const awaiting = await place(alice, [{ productId: products[1].id, quantity: 1 }]);
    await reserved(awaiting);
    await orderWhen(awaiting.id, "AWAITING_PAYMENT", (o) => o.status === OrderStatus.AWAITING_PAYMENT);

    for (const order of [pending, awaiting]) {
      const { order: cancelled } = await orders.cancelOrder({ orderId: order.id }, auth(alice));
      expect(cancelled).toMatchObject({
        status: OrderStatus.CANCELLED,
        cancellationReason: CancellationReason.CUSTOMER_REQUESTED,
        cancellationDetail: "cancelled by the customer",
      });
      const { order: again } = await orders.cancelOrder({ orderId: order.id }, auth(alice));
      expect(again).toEqual(cancelled);
      await eventually("OrderCancelled", () => log.of("shop.order.v1.OrderCancelled", order.id).length === 1);
    }
  });

  it("refuses to cancel a CONFIRMED order (FailedPrecondition)", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    await captured(order);
    await orderWhen(order.id, "CONFIRMED", (o) => o.status === OrderStatus.CONFIRMED);
    expect((await codeOf(orders.cancelOrder({ orderId: order.id }, auth(alice)))).code).toBe(Code.FailedPrecondition);
    expect((await get(order.id)).status).toBe(OrderStatus.CONFIRMED);
  });

  it("lets an admin cancel a customer's order", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    const { order: cancelled } = await orders.cancelOrder({ orderId: order.id }, auth(await system.adminToken()));
    expect(cancelled).toMatchObject({
      status: OrderStatus.CANCELLED,
      cancellationDetail: "cancelled by an administrator",
    });
  });
});

describe("someone else's order", () => {
  it("is NotFound for GetOrder, CancelOrder and WatchOrder, and unchanged", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    expect((await codeOf(orders.getOrder({ orderId: order.id }, auth(bob)))).code).toBe(Code.NotFound);
    expect((await codeOf(orders.cancelOrder({ orderId: order.id }, auth(bob)))).code).toBe(Code.NotFound);
    expect(
      (
        await codeOf(async () => {
          for await (const _ of orders.watchOrder({ orderId: order.id }, auth(bob)));
        })
      ).code,
    ).toBe(Code.NotFound);
    expect((await get(order.id)).status).toBe(OrderStatus.PENDING);
    // An admin may read it.
    expect((await get(order.id, await system.adminToken())).id).toBe(order.id);
  });

  it("answers a made-up id the same way", async () => {
    expect((await codeOf(orders.getOrder({ orderId: "019b0000-0000-7000-8000-00000000abcd" }, auth(bob)))).code).toBe(
      Code.NotFound,
    );
  });
});

describe("WatchOrder", () => {
  it("streams PENDING → AWAITING_PAYMENT → CONFIRMED and ends", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    const statuses: OrderStatus[] = [];
    let last: Order | undefined;
    for await (const seen of ordersOf(
      orders.watchOrder({ orderId: order.id }, { ...auth(alice), signal: AbortSignal.timeout(30_000) }),
    )) {
      last = seen;
      if (statuses.at(-1) !== seen.status) statuses.push(seen.status);
      if (seen.status === OrderStatus.PENDING && statuses.length === 1) await reserved(order);
      if (seen.status === OrderStatus.AWAITING_PAYMENT && statuses.length === 2) await captured(order);
    }
    expect(statuses).toEqual([OrderStatus.PENDING, OrderStatus.AWAITING_PAYMENT, OrderStatus.CONFIRMED]);
    expect(last!.timeline).toHaveLength(3);
  });

  it("still sees changes when notifications are lost (slow poll)", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    const db = await openDatabase({ url: system.databaseUrl("order"), schema });
    const ctx = createHandlerContext({
      service: OrderService,
      method: OrderService.method.watchOrder,
      protocolName: "test",
      requestMethod: "POST",
      url: "http://test/",
      contextValues: createContextValues().set(principalKey, { subject: alice.userId, roles: ["customer"] }),
    });
    try {
      // A feed that never started listening: nothing is ever notified.
      const deaf = new OrderChangeFeed(db.$client);
      const stream = watchOrder(
        { db, feed: deaf, pollIntervalMs: 100 },
        create(WatchOrderRequestSchema, { orderId: order.id }),
        ctx,
      );
      const next = async () => {
        const r = await stream.next();
        if (r.done) throw new Error("WatchOrder ended");
        return r.value;
      };
      expect((await next()).order?.status).toBe(OrderStatus.PENDING);
      await reserved(order);
      expect((await next()).order?.status).toBe(OrderStatus.AWAITING_PAYMENT);
      ctx.abort();
      expect((await stream.next()).done).toBe(true);
    } finally {
      await closeDatabase(db);
    }
  });

  it("sends a terminal order once and ends", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    await orders.cancelOrder({ orderId: order.id }, auth(alice));
    const seen: Order[] = [];
    for await (const res of orders.watchOrder({ orderId: order.id }, auth(alice))) seen.push(res.order!);
    expect(seen.map((o) => o.status)).toEqual([OrderStatus.CANCELLED]);
  });

  it("sends heartbeats while the order does not change, then the change", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    const seen: string[] = [];
    for await (const res of orders.watchOrder(
      { orderId: order.id },
      { ...auth(alice), signal: AbortSignal.timeout(30_000) },
    )) {
      seen.push(res.heartbeat ? "heartbeat" : OrderStatus[res.order!.status]);
      expect(res.heartbeat).toBe(res.order === undefined);
      if (seen.filter((m) => m === "heartbeat").length === 2 && seen.at(-1) === "heartbeat") {
        await orders.cancelOrder({ orderId: order.id }, auth(alice));
      }
    }
    expect(seen.slice(0, 3)).toEqual(["PENDING", "heartbeat", "heartbeat"]);
    expect(seen.at(-1)).toBe("CANCELLED");
  });

  it("finishes on the server when the client goes away, at any moment", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    const before = watchEnds().length;
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const client = new AbortController();
        try {
          for await (const _ of orders.watchOrder({ orderId: order.id }, { ...auth(alice), signal: client.signal }))
            setTimeout(() => client.abort(), i % 5);
        } catch {
          // Canceled, as asked.
        }
      }),
    );
    // Every handler got its first message out, so each must end (and log it).
    await eventually("every watch to finish", () => watchEnds().length === before + 20);
    expect(watchEnds().slice(before)).toEqual(Array<string>(20).fill("canceled"));
  });
});

describe("ListOrders", () => {
  it("pages through the caller's orders, newest first, with tokens bound to the caller", async () => {
    const customer = await system.signUp();
    const placed: string[] = [];
    for (let i = 0; i < 5; i++)
      placed.push((await place(customer, [{ productId: products[0].id, quantity: i + 1 }])).id);
    await place(bob, [{ productId: products[0].id, quantity: 1 }]);

    const pages: string[][] = [];
    let token = "";
    do {
      const res = await orders.listOrders({ pageSize: 2, pageToken: token }, auth(customer));
      pages.push(res.orders.map((o) => o.id));
      expect(res.orders.every((o) => o.userId === customer.userId && o.timeline.length === 1)).toBe(true);
      token = res.nextPageToken;
    } while (token);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual([...placed].reverse());

    const first = await orders.listOrders({ pageSize: 2 }, auth(customer));
    expect((await codeOf(orders.listOrders({ pageSize: 2, pageToken: first.nextPageToken }, auth(bob)))).code).toBe(
      Code.InvalidArgument,
    );
  });
});

describe("when a dependency is down", () => {
  it("PlaceOrder fails Unavailable when identity cannot be asked", async () => {
    const customer = await system.signUp();
    // Let order cache identity's keys, so that only the customer check fails.
    await orders.listOrders({}, auth(customer));
    await system.stopService("identity");
    try {
      const failure = await codeOf(place(customer, [{ productId: products[0].id, quantity: 1 }]));
      expect(failure.code).toBe(Code.Unavailable);
      expect(failure.message).toContain("identity");
      // Catalog is asked at the same time; the account's answer still comes first.
      const unknownProduct = await codeOf(
        place(customer, [{ productId: "019b0000-0000-7000-8000-000000000002", quantity: 1 }]),
      );
      expect(unknownProduct.code).toBe(Code.Unavailable);
      expect(unknownProduct.message).toContain("identity");
    } finally {
      await system.restart("identity");
    }
    expect((await orders.listOrders({}, auth(customer))).orders).toEqual([]);
  });

  it("PlaceOrder fails Unavailable and stores nothing; a retry after recovery places the order", async () => {
    const customer = await system.signUp();
    const key = uniqueId("key");
    const lines = [{ productId: products[0].id, quantity: 1 }];
    await system.stopService("catalog");
    try {
      const failure = await codeOf(place(customer, lines, { key }));
      expect(failure.code).toBe(Code.Unavailable);
      expect(failure.message).toContain("catalog");
      expect((await orders.listOrders({}, auth(customer))).orders).toEqual([]);
    } finally {
      await system.restart("catalog");
    }
    expect((await place(customer, lines, { key })).status).toBe(OrderStatus.PENDING);
  });
});

describe("shutdown", () => {
  it("ends open watches with Unavailable when the server drains", async () => {
    const order = await place(alice, [{ productId: products[0].id, quantity: 1 }]);
    const received: Order[] = [];
    const watching = codeOf(async () => {
      for await (const seen of ordersOf(orders.watchOrder({ orderId: order.id }, auth(alice)))) received.push(seen);
    });
    await eventually("the first message", () => received.length === 1);
    await system.stopService("order");
    expect((await watching).code).toBe(Code.Unavailable);
  });
});
