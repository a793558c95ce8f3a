// Saga timeouts: an order that waits too long in PENDING or AWAITING_PAYMENT
// is cancelled (TIMED_OUT) exactly once, however many replicas sweep.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBinary } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { StockReservedSchema } from "@shop/gen/shop/inventory/v1/events_pb";
import { OrderCancelledSchema } from "@shop/gen/shop/order/v1/events_pb";
import { CancellationReason, OrderService, OrderStatus, type Order } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentCapturedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { closeDatabase, openDatabase } from "@shop/runtime/db/database";
import { outbox as outboxTable } from "@shop/runtime/db/schema";
import { EventBus } from "@shop/runtime/events/bus";
import { createOutbox } from "@shop/runtime/events/outbox";
import { createLogger } from "@shop/runtime/log";
import {
  bearer,
  eventually,
  NATS_URL,
  startSystem,
  uniqueId,
  type Account,
  type TestSystem,
} from "../../../tests/support/system.ts";
import * as schema from "../src/schema.ts";
import { TimeoutSweeper } from "../src/timeout-sweeper.ts";
import { OrderEventLog, publishEvent } from "./event-traffic.ts";

// Long enough for the test to report the reservation first, short enough to wait for.
const PENDING_TIMEOUT_MS = 2500;
const PAYMENT_TIMEOUT_MS = 400;

let system: TestSystem;
let bus: EventBus;
let log: OrderEventLog;
let orders: Client<typeof OrderService>;
let productId: string;
let customer: Account;

function place(): Promise<Order> {
  return orders
    .placeOrder(
      { idempotencyKey: uniqueId("key"), lines: [{ productId, quantity: 1 }], cardToken: "tok" },
      { headers: bearer(customer.token) },
    )
    .then((r) => r.order!);
}

function orderWhen(orderId: string, what: string, check: (o: Order) => boolean): Promise<Order> {
  return eventually(what, async () => {
    const { order } = await orders.getOrder({ orderId }, { headers: bearer(customer.token) });
    return check(order!) ? order! : undefined;
  });
}

beforeAll(async () => {
  system = await startSystem(["identity", "catalog", "order"], {
    env: {
      ORDER_PENDING_TIMEOUT_MS: String(PENDING_TIMEOUT_MS),
      ORDER_PAYMENT_TIMEOUT_MS: String(PAYMENT_TIMEOUT_MS),
      // No inventory here: orders wait until they time out, a backlog the
      // default admission would refuse past ORDER_MIN_IN_SAGA.
      ORDER_TARGET_WAIT_MS: "0",
    },
  });
  bus = await EventBus.connect({ servers: NATS_URL, naming: system.naming });
  log = await OrderEventLog.open(bus);
  orders = system.client(OrderService);
  productId = (await system.client(CatalogService).listProducts({ pageSize: 1 })).products[0].id;
  customer = await system.signUp();
});

afterAll(async () => {
  await log?.close();
  await bus?.close();
  await system?.stop();
});

describe("saga timeouts", () => {
  it("cancels an order that waits too long for stock (TIMED_OUT) + OrderCancelled", async () => {
    const order = await place();
    const cancelled = await orderWhen(order.id, "TIMED_OUT", (o) => o.status === OrderStatus.CANCELLED);
    expect(cancelled).toMatchObject({
      cancellationReason: CancellationReason.TIMED_OUT,
      cancellationDetail: "stock was not reserved in time",
    });
    expect(cancelled.timeline.map((t) => t.status)).toEqual([OrderStatus.PENDING, OrderStatus.CANCELLED]);
    const waited = Number(cancelled.updatedAt!.seconds - order.createdAt!.seconds);
    expect(waited).toBeGreaterThanOrEqual(1);
    await eventually("OrderCancelled", () =>
      log.of("shop.order.v1.OrderCancelled", order.id).some((e) => e.reason === CancellationReason.TIMED_OUT),
    );
  });

  it("cancels an order that waits too long for payment, and a late capture does not revive it", async () => {
    const order = await place();
    await publishEvent(bus, StockReservedSchema, {
      orderId: order.id,
      userId: order.userId,
      amount: order.total,
      cardToken: "tok",
    });
    const cancelled = await orderWhen(order.id, "TIMED_OUT", (o) => o.status === OrderStatus.CANCELLED);
    expect(cancelled).toMatchObject({
      cancellationReason: CancellationReason.TIMED_OUT,
      cancellationDetail: "payment was not completed in time",
    });
    expect(cancelled.timeline.map((t) => t.status)).toEqual([
      OrderStatus.PENDING,
      OrderStatus.AWAITING_PAYMENT,
      OrderStatus.CANCELLED,
    ]);

    await publishEvent(bus, PaymentCapturedSchema, {
      paymentId: uniqueId("pay"),
      orderId: order.id,
      amount: order.total,
    });
    const noted = await orderWhen(order.id, "late capture noted", (o) => o.timeline.length === 4);
    expect(noted.status).toBe(OrderStatus.CANCELLED);
    expect(log.of("shop.order.v1.OrderConfirmed", order.id)).toHaveLength(0);
  });

  it("cancels each overdue order exactly once while several replicas sweep", async () => {
    const placed = await Promise.all(Array.from({ length: 40 }, () => place()));
    // Three more sweepers on the same database, as other replicas would run.
    const db = await openDatabase({ url: system.databaseUrl("order"), schema });
    try {
      const sweepers = Array.from(
        { length: 3 },
        () =>
          new TimeoutSweeper({
            db,
            deps: {
              outbox: createOutbox({ naming: system.naming }),
              timeouts: { pendingTimeoutMs: PENDING_TIMEOUT_MS, paymentTimeoutMs: PAYMENT_TIMEOUT_MS },
            },
            intervalMs: 10,
            logger: createLogger("test-sweeper", { level: "silent" }),
          }),
      );
      for (const sweeper of sweepers) sweeper.start();
      try {
        for (const order of placed) await orderWhen(order.id, "cancelled", (o) => o.status === OrderStatus.CANCELLED);
      } finally {
        await Promise.all(sweepers.map((s) => s.stop()));
      }

      const events = (await db.select().from(outboxTable)).filter((r) => r.eventType === OrderCancelledSchema.typeName);
      const ids = new Set(placed.map((o) => o.id));
      const perOrder = new Map<string, number>();
      for (const row of events) {
        const { orderId } = fromBinary(OrderCancelledSchema, row.payload);
        if (ids.has(orderId)) perOrder.set(orderId, (perOrder.get(orderId) ?? 0) + 1);
      }
      expect(perOrder.size).toBe(placed.length);
      expect([...perOrder.values()].every((n) => n === 1)).toBe(true);
      const entries = await db.select().from(schema.orderTimeline).orderBy(schema.orderTimeline.id);
      for (const order of placed) {
        expect(entries.filter((e) => e.orderId === order.id).map((e) => e.status)).toEqual(["PENDING", "CANCELLED"]);
      }
    } finally {
      await closeDatabase(db);
    }
  });
});
