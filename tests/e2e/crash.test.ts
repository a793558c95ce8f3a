// The saga's invariants under the failures DESIGN.md names: duplicated and
// replayed events, and SIGKILL of the payment and inventory processes in the
// middle of a batch of orders, with every service a real process.
import { randomUUID } from "node:crypto";
import { fromBinary, toJsonString } from "@bufbuild/protobuf";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { StockReservedSchema } from "@shop/gen/shop/inventory/v1/events_pb";
import { OrderConfirmedSchema, OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { OrderStatus } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentCapturedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { EventBus } from "@shop/runtime/events/bus";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER } from "@shop/runtime/events/headers";
import type { DescMessage } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProcessSystem, type ProcessSystem } from "../support/processes.ts";
import { eventually, type Account } from "../support/system.ts";
import {
  CARDS,
  expectSagaInvariants,
  getOrder,
  notificationsOf,
  paymentsOf,
  placeOrder,
  stockedProduct,
  stockOf,
  terminalOrder,
  tokenizeCard,
} from "./shop.ts";

let system: ProcessSystem;
let bus: EventBus;
let customer: Account;

beforeAll(async () => {
  system = await startProcessSystem({
    services: ["identity", "catalog", "inventory", "payment", "order", "notification"],
    env: { CHARGE_RETRY_DELAY_MS: "50" },
  });
  bus = await EventBus.connect({ naming: system.naming });
  customer = await system.signUp("Crash Customer");
}, 180_000);
afterAll(async () => {
  await bus?.close();
  await system?.stop();
}, 60_000);

/** Waits until every durable consumer of these event types has nothing pending or unacknowledged. */
async function drained(types: DescMessage[]): Promise<void> {
  await eventually("consumers to drain", async () => {
    for (const type of types) {
      for await (const info of bus.jsm.consumers.list(system.naming.stream(type))) {
        if (info.config.filter_subject !== system.naming.subject(type)) continue;
        if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
      }
    }
    return true;
  });
}

/** Publishes a copy of the last event of `type`: as a redelivery (same event id) or a duplicate (new id). */
async function republish(type: DescMessage, as: "same-event-id" | "new-event-id"): Promise<Uint8Array> {
  const subject = system.naming.subject(type);
  const original = await bus.jsm.streams.getMessage(system.naming.stream(type), { last_by_subj: subject });
  const h = natsHeaders();
  h.set(EVENT_TYPE_HEADER, type.typeName);
  h.set(EVENT_ID_HEADER, as === "same-event-id" ? original!.header.get(EVENT_ID_HEADER) : randomUUID());
  // A new Nats-Msg-Id, so JetStream's de-duplication lets it through: only the consumers can stop it.
  await bus.js.publish(subject, original!.data, { msgID: randomUUID(), headers: h });
  return original!.data;
}

describe("duplicated and replayed events", () => {
  it("change nothing", async () => {
    const productId = await stockedProduct(system, 5);
    const placed = await placeOrder(system, customer, productId, { quantity: 2 });
    const confirmed = await terminalOrder(system, customer.token, placed.id);
    expect(OrderStatus[confirmed.status]).toBe("CONFIRMED");
    const types = [OrderPlacedSchema, StockReservedSchema, PaymentCapturedSchema, OrderConfirmedSchema];
    await drained(types);
    const before = {
      stock: await stockOf(system, productId),
      payments: (await paymentsOf(system, placed.id)).map((p) => [p.id, p.status, p.attempts]),
      notifications: (await notificationsOf(system, customer)).filter((n) => n.orderId === placed.id).length,
      status: (await getOrder(system, customer.token, placed.id)).status,
    };
    for (const type of types) {
      const data = await republish(type, "same-event-id");
      expect(toJsonString(type, fromBinary(type, data))).toContain(placed.id);
      await republish(type, "new-event-id");
    }
    await drained(types);
    expect({
      stock: await stockOf(system, productId),
      payments: (await paymentsOf(system, placed.id)).map((p) => [p.id, p.status, p.attempts]),
      notifications: (await notificationsOf(system, customer)).filter((n) => n.orderId === placed.id).length,
      status: (await getOrder(system, customer.token, placed.id)).status,
    }).toEqual(before);
    expect(before.stock).toEqual({ available: 3n, reserved: 0n });
    expect(before.notifications).toBe(1);
  });
});

describe("SIGKILL of payment and inventory in the middle of a batch", () => {
  it("still brings every order to a terminal state with every invariant intact", async () => {
    const initialStock = 12;
    const productId = await stockedProduct(system, initialStock);
    const cards = [CARDS.approve, CARDS.approve, CARDS.decline, CARDS.approve, CARDS.outageThenApprove];
    const batch: { customer: Account; orderId: string; quantity: number }[] = [];
    // Tokenized up front: checkout talks to payment, which is about to die.
    const tokens = await Promise.all(
      Array.from({ length: 16 }, (_, i) => tokenizeCard(system, customer, cards[i % cards.length])),
    );
    const place = async (i: number) => {
      const order = await placeOrder(system, customer, productId, { cardToken: tokens[i] });
      batch.push({ customer, orderId: order.id, quantity: 1 });
    };
    // The first orders are under way when both processes die without warning.
    await Promise.all(Array.from({ length: 6 }, (_, i) => place(i)));
    await Promise.all([system.kill("payment"), system.kill("inventory")]);
    // Orders keep coming while they are down: the order service takes them (PENDING).
    await Promise.all(Array.from({ length: 10 }, (_, i) => place(6 + i)));
    const pending = await Promise.all(batch.map((o) => getOrder(system, customer.token, o.orderId)));
    expect(pending.some((o) => o.status === OrderStatus.PENDING || o.status === OrderStatus.AWAITING_PAYMENT)).toBe(
      true,
    );
    await Promise.all([system.start("inventory"), system.start("payment")]);

    const outcome = await expectSagaInvariants(system, batch, productId, initialStock);
    expect(outcome.confirmed + outcome.cancelled).toBe(16);
    // 16 orders for 12 units, 3 of them with a declined card: at most 12 confirmed.
    expect(outcome.confirmed).toBeLessThanOrEqual(12);
    expect(outcome.cancelled).toBeGreaterThanOrEqual(3);
  }, 240_000);
});
