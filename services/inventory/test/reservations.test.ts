// Inventory's side of the order saga, driven the way the real system drives
// it: upstream events published on JetStream, inventory's consumer and outbox
// relay running in a real server with its own database.
import { fromBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { eq } from "drizzle-orm";
import {
  StockCommittedSchema,
  StockRejectedSchema,
  StockRejectionReason,
  StockReleasedSchema,
  StockReservedSchema,
} from "@shop/gen/shop/inventory/v1/events_pb";
import { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { CancellationReason } from "@shop/gen/shop/order/v1/order_pb";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentFailedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { PaymentFailureReason } from "@shop/gen/shop/payment/v1/payment_pb";
import { closeDatabase, openDatabase, type Database } from "@shop/runtime/db/database";
import { outbox } from "@shop/runtime/db/schema";
import { EventBus } from "@shop/runtime/events/bus";
import { startService } from "@shop/runtime/service";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, freePort, NATS_URL, startSystem, type TestSystem } from "../../../tests/support/system.ts";
import * as schema from "../src/schema.ts";
import { reservations, stock } from "../src/schema.ts";
import { definition } from "../src/service.ts";
import { inventoryCaughtUp, InventoryEventLog, publishEvent } from "./event-traffic.ts";

let system: TestSystem;
let bus: EventBus;
let log: InventoryEventLog;
let db: Database<typeof schema>;

beforeAll(async () => {
  system = await startSystem(["inventory"]);
  bus = await EventBus.connect({ servers: NATS_URL, naming: system.naming });
  log = await InventoryEventLog.open(bus);
  db = await openDatabase({ url: system.databaseUrl("inventory"), schema, max: 2 });
});
afterAll(async () => {
  await log?.close();
  await bus?.close();
  if (db) await closeDatabase(db);
  await system?.stop();
});

const inventory = () => system.client(InventoryService);

/** A product no other test touches, with `units` available (test set-up, straight into the table). */
async function stockedProduct(units: number): Promise<string> {
  const productId = uuidv7();
  await db.insert(stock).values({ productId, available: BigInt(units) });
  return productId;
}

const UNIT_PRICE = 1250n;

function orderPlaced(
  lines: { productId: string; quantity: number }[],
): MessageInitShape<typeof OrderPlacedSchema> & { orderId: string } {
  const total = lines.reduce((sum, l) => sum + UNIT_PRICE * BigInt(l.quantity), 0n);
  return {
    orderId: uuidv7(),
    userId: uuidv7(),
    lines: lines.map((l) => ({
      productId: l.productId,
      productName: "Test product",
      quantity: l.quantity,
      unitPrice: { currencyCode: "EUR", amountMinor: UNIT_PRICE },
      lineTotal: { currencyCode: "EUR", amountMinor: UNIT_PRICE * BigInt(l.quantity) },
    })),
    total: { currencyCode: "EUR", amountMinor: total },
    cardToken: `tok_${uuidv7()}`,
    placedAt: timestampNow(),
  };
}

async function levelOf(productId: string) {
  const { stock } = await inventory().getStock({ productId });
  return { available: stock!.available, reserved: stock!.reserved };
}

async function reservationStatus(orderId: string) {
  const [row] = await db.select().from(reservations).where(eq(reservations.orderId, orderId));
  return row?.status;
}

/** What inventory's outbox holds of one event type for one order: everything it ever decided to publish. */
async function published<Desc extends DescMessage>(schemaOf: Desc, orderId: string): Promise<MessageShape<Desc>[]> {
  const rows = await db.select().from(outbox).where(eq(outbox.eventType, schemaOf.typeName));
  return rows
    .map((r) => fromBinary(schemaOf, r.payload))
    .filter((e) => (e as { orderId?: string }).orderId === orderId);
}

const caughtUp = () => eventually("inventory to handle every event published so far", () => inventoryCaughtUp(bus));

describe("reserving stock on OrderPlaced", () => {
  it("holds every line and publishes StockReserved with the order's amount and card token", async () => {
    const kettle = await stockedProduct(5);
    const press = await stockedProduct(3);
    const placed = orderPlaced([
      { productId: kettle, quantity: 2 },
      { productId: press, quantity: 3 },
    ]);
    await publishEvent(bus, OrderPlacedSchema, placed);

    // Read back from the stream: the relay really published it.
    const reserved = await eventually(
      "StockReserved on the stream",
      () => log.of("shop.inventory.v1.StockReserved", placed.orderId)[0],
    );
    expect(reserved.userId).toBe(placed.userId);
    expect(reserved.cardToken).toBe(placed.cardToken);
    expect(reserved.amount).toMatchObject({ currencyCode: "EUR", amountMinor: 5n * UNIT_PRICE });
    expect(reserved.lines.map((l) => [l.productId, l.quantity])).toEqual([
      [kettle, 2n],
      [press, 3n],
    ]);
    expect(await levelOf(kettle)).toEqual({ available: 3n, reserved: 2n });
    expect(await levelOf(press)).toEqual({ available: 0n, reserved: 3n });
    expect(await reservationStatus(placed.orderId)).toBe("RESERVED");
  });

  it("adds up lines for the same product", async () => {
    const mug = await stockedProduct(4);
    const placed = orderPlaced([
      { productId: mug, quantity: 1 },
      { productId: mug, quantity: 2 },
    ]);
    await publishEvent(bus, OrderPlacedSchema, placed);
    const reserved = await eventually(
      "StockReserved",
      async () => (await published(StockReservedSchema, placed.orderId))[0],
    );
    expect(reserved.lines.map((l) => [l.productId, l.quantity])).toEqual([[mug, 3n]]);
    expect(await levelOf(mug)).toEqual({ available: 1n, reserved: 3n });
  });

  it("rejects an order asking for more than is available and holds nothing", async () => {
    const plenty = await stockedProduct(5);
    const scarce = await stockedProduct(1);
    const placed = orderPlaced([
      { productId: plenty, quantity: 2 },
      { productId: scarce, quantity: 2 },
    ]);
    await publishEvent(bus, OrderPlacedSchema, placed);

    const rejected = await eventually(
      "StockRejected on the stream",
      () => log.of("shop.inventory.v1.StockRejected", placed.orderId)[0],
    );
    expect(rejected.reason).toBe(StockRejectionReason.INSUFFICIENT_STOCK);
    expect(rejected.unavailable.map((l) => [l.productId, l.quantity])).toEqual([[scarce, 1n]]);
    expect(await levelOf(plenty)).toEqual({ available: 5n, reserved: 0n });
    expect(await levelOf(scarce)).toEqual({ available: 1n, reserved: 0n });
    expect(await published(StockReservedSchema, placed.orderId)).toEqual([]);
    expect(await reservationStatus(placed.orderId)).toBe("REJECTED");
  });

  it("rejects an order for a product that was never stocked with UNKNOWN_PRODUCT", async () => {
    const known = await stockedProduct(5);
    const unknown = uuidv7();
    const placed = orderPlaced([
      { productId: known, quantity: 1 },
      { productId: unknown, quantity: 1 },
    ]);
    await publishEvent(bus, OrderPlacedSchema, placed);

    const rejected = await eventually(
      "StockRejected",
      async () => (await published(StockRejectedSchema, placed.orderId))[0],
    );
    expect(rejected.reason).toBe(StockRejectionReason.UNKNOWN_PRODUCT);
    expect(rejected.unavailable.map((l) => [l.productId, l.quantity])).toEqual([[unknown, 0n]]);
    expect(await levelOf(known)).toEqual({ available: 5n, reserved: 0n });
  });

  it("reserves once however often the order arrives", async () => {
    const lamp = await stockedProduct(10);
    const placed = orderPlaced([{ productId: lamp, quantity: 4 }]);
    const eventId = await publishEvent(bus, OrderPlacedSchema, placed);
    // The same event id again, past JetStream's de-duplication (a replay, or a
    // republish after the duplicate window): the inbox drops it.
    await publishEvent(bus, OrderPlacedSchema, placed, { eventId, msgId: uuidv7() });
    // The same order under a new event id: the reservation row drops it.
    await publishEvent(bus, OrderPlacedSchema, placed);
    await caughtUp();

    expect(await published(StockReservedSchema, placed.orderId)).toHaveLength(1);
    expect(await published(StockRejectedSchema, placed.orderId)).toHaveLength(0);
    expect(await levelOf(lamp)).toEqual({ available: 6n, reserved: 4n });
  });
});

describe("releasing and committing", () => {
  async function reserve(productId: string, quantity: number) {
    const placed = orderPlaced([{ productId, quantity }]);
    await publishEvent(bus, OrderPlacedSchema, placed);
    await eventually("StockReserved", async () => (await published(StockReservedSchema, placed.orderId)).length === 1);
    return placed;
  }

  it("releases the reservation when payment fails, once", async () => {
    const tent = await stockedProduct(6);
    const placed = await reserve(tent, 4);
    expect(await levelOf(tent)).toEqual({ available: 2n, reserved: 4n });

    await publishEvent(bus, PaymentFailedSchema, {
      paymentId: uuidv7(),
      orderId: placed.orderId,
      userId: placed.userId,
      reason: PaymentFailureReason.CARD_DECLINED,
      failedAt: timestampNow(),
    });
    const released = await eventually(
      "StockReleased on the stream",
      () => log.of("shop.inventory.v1.StockReleased", placed.orderId)[0],
    );
    expect(released.lines.map((l) => [l.productId, l.quantity])).toEqual([[tent, 4n]]);
    expect(await levelOf(tent)).toEqual({ available: 6n, reserved: 0n });
    expect(await reservationStatus(placed.orderId)).toBe("RELEASED");

    // The order service then cancels the order: nothing more to give back.
    await publishEvent(bus, OrderCancelledSchema, {
      orderId: placed.orderId,
      userId: placed.userId,
      reason: CancellationReason.PAYMENT_FAILED,
      detail: "card declined",
      cancelledAt: timestampNow(),
    });
    await caughtUp();
    expect(await published(StockReleasedSchema, placed.orderId)).toHaveLength(1);
    expect(await levelOf(tent)).toEqual({ available: 6n, reserved: 0n });
  });

  it("commits the reservation when the order is confirmed, once", async () => {
    const stove = await stockedProduct(5);
    const placed = await reserve(stove, 2);
    const confirmed = {
      orderId: placed.orderId,
      userId: placed.userId,
      total: placed.total,
      confirmedAt: timestampNow(),
    };
    await publishEvent(bus, OrderConfirmedSchema, confirmed);
    const committed = await eventually(
      "StockCommitted on the stream",
      () => log.of("shop.inventory.v1.StockCommitted", placed.orderId)[0],
    );
    expect(committed.lines.map((l) => [l.productId, l.quantity])).toEqual([[stove, 2n]]);
    expect(await levelOf(stove)).toEqual({ available: 3n, reserved: 0n });
    expect(await reservationStatus(placed.orderId)).toBe("COMMITTED");

    // A duplicate confirmation and a stray cancellation change nothing: sold is sold.
    await publishEvent(bus, OrderConfirmedSchema, confirmed);
    await publishEvent(bus, OrderCancelledSchema, {
      orderId: placed.orderId,
      userId: placed.userId,
      reason: CancellationReason.CUSTOMER_REQUESTED,
      cancelledAt: timestampNow(),
    });
    await caughtUp();
    expect(await published(StockCommittedSchema, placed.orderId)).toHaveLength(1);
    expect(await published(StockReleasedSchema, placed.orderId)).toHaveLength(0);
    expect(await levelOf(stove)).toEqual({ available: 3n, reserved: 0n });
  });

  it("leaves a tombstone when the cancellation overtakes the order, so the late order reserves nothing", async () => {
    const kite = await stockedProduct(3);
    const placed = orderPlaced([{ productId: kite, quantity: 1 }]);
    await publishEvent(bus, OrderCancelledSchema, {
      orderId: placed.orderId,
      userId: placed.userId,
      reason: CancellationReason.TIMED_OUT,
      cancelledAt: timestampNow(),
    });
    await eventually(
      "the tombstone",
      async () => (await reservationStatus(placed.orderId)) === "CANCELLED_BEFORE_RESERVE",
    );

    await publishEvent(bus, OrderPlacedSchema, placed);
    await caughtUp();
    expect(await reservationStatus(placed.orderId)).toBe("CANCELLED_BEFORE_RESERVE");
    expect(await published(StockReservedSchema, placed.orderId)).toHaveLength(0);
    expect(await published(StockRejectedSchema, placed.orderId)).toHaveLength(0);
    expect(await published(StockReleasedSchema, placed.orderId)).toHaveLength(0);
    expect(await levelOf(kite)).toEqual({ available: 3n, reserved: 0n });
  });
});

describe("the last unit goes to exactly one order", () => {
  async function outcomes(orderIds: string[]) {
    let reserved = 0;
    let rejected = 0;
    await eventually("a decision for every order", async () => {
      const ids = new Set(orderIds);
      const decided = async (s: DescMessage) =>
        (await db.select().from(outbox).where(eq(outbox.eventType, s.typeName)))
          .map((r) => (fromBinary(s, r.payload) as unknown as { orderId: string }).orderId)
          .filter((id) => ids.has(id));
      const r = await decided(StockReservedSchema);
      const j = await decided(StockRejectedSchema);
      [reserved, rejected] = [r.length, j.length];
      return r.length + j.length >= orderIds.length;
    });
    return { reserved, rejected };
  }

  it("50 orders at once for 10 units: 10 reserved, 40 rejected, nothing oversold", async () => {
    const product = await stockedProduct(10);
    const orders = Array.from({ length: 50 }, () => orderPlaced([{ productId: product, quantity: 1 }]));
    await Promise.all(orders.map((o) => publishEvent(bus, OrderPlacedSchema, o)));

    expect(await outcomes(orders.map((o) => o.orderId))).toEqual({ reserved: 10, rejected: 40 });
    expect(await levelOf(product)).toEqual({ available: 0n, reserved: 10n });
  });

  it("holds with two inventory instances consuming at once, orders spanning two products in either order", async () => {
    const second = await startService({
      ...definition,
      env: {
        ...system.env,
        PORT: String(await freePort()),
        HOST: "127.0.0.1",
        DATABASE_URL: system.databaseUrl("inventory"),
        IDENTITY_ADDR: "http://127.0.0.1:9",
      },
    });
    try {
      // Both instances hold a pull request on the one shared durable consumer.
      await eventually("both instances pulling OrderPlaced", async () => {
        const info = await bus.jsm.consumers.info(
          system.naming.stream(OrderPlacedSchema),
          system.naming.consumerName("inventory", OrderPlacedSchema),
        );
        return info.num_waiting >= 2;
      });
      const a = await stockedProduct(10);
      const b = await stockedProduct(10);
      // Lines listed in both orders: consistent lock ordering keeps this deadlock-free.
      const orders = Array.from({ length: 50 }, (_, i) =>
        orderPlaced(
          i % 2 === 0
            ? [
                { productId: a, quantity: 1 },
                { productId: b, quantity: 1 },
              ]
            : [
                { productId: b, quantity: 1 },
                { productId: a, quantity: 1 },
              ],
        ),
      );
      await Promise.all(orders.map((o) => publishEvent(bus, OrderPlacedSchema, o)));

      expect(await outcomes(orders.map((o) => o.orderId))).toEqual({ reserved: 10, rejected: 40 });
      expect(await levelOf(a)).toEqual({ available: 0n, reserved: 10n });
      expect(await levelOf(b)).toEqual({ available: 0n, reserved: 10n });
    } finally {
      await second.stop();
    }
  });
});
