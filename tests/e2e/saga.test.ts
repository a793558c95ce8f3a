// The order saga end to end: every service a real process started the way
// `npm start` starts it, real Postgres, real JetStream. Each scenario uses a
// product of its own so scenarios cannot disturb each other's stock.
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { NotificationKind } from "@shop/gen/shop/notification/v1/notification_pb";
import { CancellationReason, OrderService, OrderStatus } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentFailureReason, PaymentService, PaymentStatus } from "@shop/gen/shop/payment/v1/payment_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProcessSystem, type ProcessSystem } from "../support/processes.ts";
import { bearer, eventually, type Account } from "../support/system.ts";
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
} from "./shop.ts";

let system: ProcessSystem;
let customer: Account;

beforeAll(async () => {
  system = await startProcessSystem({
    services: ["identity", "catalog", "inventory", "payment", "order", "notification"],
    env: { PROCESSOR_SLOW_DELAY_MS: "4000", CHARGE_RETRY_DELAY_MS: "50" },
  });
  customer = await system.signUp("Saga Customer");
}, 180_000);
afterAll(() => system?.stop(), 60_000);

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(err, "the call should have failed").toBeDefined();
  return err!;
}

describe("the order saga", () => {
  it("takes an order to CONFIRMED: stock decremented, payment captured, one notification", async () => {
    const productId = await stockedProduct(system, 5);
    const placed = await placeOrder(system, customer, productId, { quantity: 2 });
    expect(placed.status).toBe(OrderStatus.PENDING);
    const order = await terminalOrder(system, customer.token, placed.id);
    expect(OrderStatus[order.status]).toBe("CONFIRMED");
    expect(order.timeline.map((t) => OrderStatus[t.status])).toEqual(
      expect.arrayContaining(["PENDING", "AWAITING_PAYMENT", "CONFIRMED"]),
    );
    const payments = await paymentsOf(system, placed.id);
    expect(payments.map((p) => PaymentStatus[p.status])).toEqual(["CAPTURED"]);
    expect(payments[0].amount?.amountMinor).toBe(order.total?.amountMinor);
    await eventually("stock to be committed", async () => {
      const s = await stockOf(system, productId);
      return s.available === 3n && s.reserved === 0n;
    });
    await expectSagaInvariants(system, [{ customer, orderId: placed.id, quantity: 2 }], productId, 5);
  });

  it("cancels an order that is out of stock: reason given, stock untouched, nothing charged", async () => {
    const productId = await stockedProduct(system, 1);
    const placed = await placeOrder(system, customer, productId, { quantity: 3 });
    const order = await terminalOrder(system, customer.token, placed.id);
    expect(OrderStatus[order.status]).toBe("CANCELLED");
    expect(CancellationReason[order.cancellationReason]).toBe("OUT_OF_STOCK");
    expect(await stockOf(system, productId)).toEqual({ available: 1n, reserved: 0n });
    expect(await paymentsOf(system, placed.id)).toEqual([]);
  });

  it("cancels an order whose card is declined: reservation released, the customer told why", async () => {
    const productId = await stockedProduct(system, 2);
    const placed = await placeOrder(system, customer, productId, { card: CARDS.decline });
    const order = await terminalOrder(system, customer.token, placed.id);
    expect(CancellationReason[order.cancellationReason]).toBe("PAYMENT_FAILED");
    expect(order.cancellationDetail).toMatch(/declined/i);
    const [payment] = await paymentsOf(system, placed.id);
    expect(PaymentFailureReason[payment.failureReason]).toBe("CARD_DECLINED");
    await eventually("the reservation to be released", async () => {
      const s = await stockOf(system, productId);
      return s.available === 2n && s.reserved === 0n;
    });
    const told = await eventually("a notification explaining the failure", async () =>
      (await notificationsOf(system, customer)).find(
        (n) => n.orderId === placed.id && n.kind === NotificationKind.PAYMENT_FAILED,
      ),
    );
    expect(told.body).toMatch(/declined/i);
  });

  it("retries a processor outage and then ends deterministically", async () => {
    const productId = await stockedProduct(system, 4);
    const recovers = await placeOrder(system, customer, productId, { card: CARDS.outageThenApprove });
    const never = await placeOrder(system, customer, productId, { card: CARDS.outage });
    expect(OrderStatus[(await terminalOrder(system, customer.token, recovers.id)).status]).toBe("CONFIRMED");
    const [recovered] = await paymentsOf(system, recovers.id);
    expect(recovered.attempts).toBe(3);
    const failed = await terminalOrder(system, customer.token, never.id);
    expect(OrderStatus[failed.status]).toBe("CANCELLED");
    const [unavailable] = await paymentsOf(system, never.id);
    expect(PaymentFailureReason[unavailable.failureReason]).toBe("PROCESSOR_UNAVAILABLE");
    expect(unavailable.attempts).toBeGreaterThan(1);
    await expectSagaInvariants(
      system,
      [
        { customer, orderId: recovers.id, quantity: 1 },
        { customer, orderId: never.id, quantity: 1 },
      ],
      productId,
      4,
    );
  });

  it("refunds and releases stock when an order is cancelled while its charge is captured", async () => {
    const productId = await stockedProduct(system, 3);
    const placed = await placeOrder(system, customer, productId, { card: CARDS.slowApprove });
    // Cancel once the charge is in flight at the processor.
    await eventually("the charge to start", async () =>
      (await paymentsOf(system, placed.id)).some((p) => p.status === PaymentStatus.PENDING),
    );
    const { order } = await system
      .client(OrderService)
      .cancelOrder({ orderId: placed.id }, { headers: bearer(customer.token) });
    expect(OrderStatus[order!.status]).toBe("CANCELLED");
    expect(CancellationReason[order!.cancellationReason]).toBe("CUSTOMER_REQUESTED");
    const refunded = await eventually("the captured charge to be refunded", async () => {
      const [payment] = await paymentsOf(system, placed.id);
      return payment?.status === PaymentStatus.REFUNDED ? payment : undefined;
    });
    expect(refunded.refundedAt).toBeDefined();
    await eventually("the reservation to be released", async () => {
      const s = await stockOf(system, productId);
      return s.available === 3n && s.reserved === 0n;
    });
    // The order stays CANCELLED and records the refund.
    const final = await eventually("the refund on the timeline", async () => {
      const o = await getOrder(system, customer.token, placed.id);
      return o.timeline.some((t) => /refund/i.test(t.description)) ? o : undefined;
    });
    expect(OrderStatus[final.status]).toBe("CANCELLED");
  });

  it("places one order for the same request sent twice with one idempotency key", async () => {
    const productId = await stockedProduct(system, 5);
    const headers = bearer(customer.token);
    const { cardToken } = await system.client(PaymentService).tokenizeCard(
      {
        cardNumber: CARDS.approve,
        expMonth: 12,
        expYear: new Date().getFullYear() + 2,
        cvc: "123",
        cardholderName: "E2E Customer",
      },
      { headers },
    );
    const request = { idempotencyKey: `retry-${randomUUID()}`, lines: [{ productId, quantity: 1 }], cardToken };
    // A client that retries after a network error, twice at once and once later.
    const [a, b] = await Promise.all([
      system.client(OrderService).placeOrder(request, { headers }),
      system.client(OrderService).placeOrder(request, { headers }),
    ]);
    const c = await system.client(OrderService).placeOrder(request, { headers });
    expect(new Set([a.order!.id, b.order!.id, c.order!.id]).size).toBe(1);
    const err = await failure(
      system.client(OrderService).placeOrder({ ...request, lines: [{ productId, quantity: 2 }] }, { headers }),
    );
    expect(Code[err.code]).toBe("FailedPrecondition");
    const { orders } = await system.client(OrderService).listOrders({ pageSize: 100 }, { headers });
    expect(orders.filter((o) => o.lines.some((l) => l.productId === productId))).toHaveLength(1);
    await expectSagaInvariants(system, [{ customer, orderId: a.order!.id, quantity: 1 }], productId, 5);
  });

  it("sells the last units exactly once: 50 concurrent orders for 10 units", async () => {
    const productId = await stockedProduct(system, 10);
    const buyers = await Promise.all(Array.from({ length: 5 }, (_, i) => system.signUp(`Buyer ${i}`)));
    const placed = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const buyer = buyers[i % buyers.length];
        const order = await placeOrder(system, buyer, productId);
        return { customer: buyer, orderId: order.id, quantity: 1 };
      }),
    );
    const outcome = await expectSagaInvariants(system, placed, productId, 10);
    expect(outcome).toEqual({ confirmed: 10, cancelled: 40 });
    expect(await stockOf(system, productId)).toEqual({ available: 0n, reserved: 0n });
  }, 300_000);
});

describe("authorization", () => {
  it("hides other users' orders, payments and notifications behind NotFound", async () => {
    const productId = await stockedProduct(system, 2);
    const placed = await placeOrder(system, customer, productId);
    await terminalOrder(system, customer.token, placed.id);
    const stranger = await system.signUp("Stranger");
    const as = { headers: bearer(stranger.token) };
    expect(Code[(await failure(system.client(OrderService).getOrder({ orderId: placed.id }, as))).code]).toBe(
      "NotFound",
    );
    expect(Code[(await failure(system.client(OrderService).cancelOrder({ orderId: placed.id }, as))).code]).toBe(
      "NotFound",
    );
    const [payment] = await paymentsOf(system, placed.id);
    expect(Code[(await failure(system.client(PaymentService).getPayment({ paymentId: payment.id }, as))).code]).toBe(
      "NotFound",
    );
    expect(Code[(await failure(system.client(PaymentService).listPayments({ orderId: placed.id }, as))).code]).toBe(
      "NotFound",
    );
    const mine = await notificationsOf(system, customer);
    expect(mine.length).toBeGreaterThan(0);
    const theirs = await notificationsOf(system, stranger);
    expect(theirs.filter((n) => n.userId !== stranger.userId)).toEqual([]);
  });

  it("refuses admin RPCs to customers and malformed or tampered tokens to everyone", async () => {
    const as = { headers: bearer(customer.token) };
    const restock = system
      .client(InventoryService)
      .restock({ restockId: randomUUID(), productId: randomUUID(), quantity: 1n }, as);
    expect(Code[(await failure(restock)).code]).toBe("PermissionDenied");
    const create = system
      .client(CatalogService)
      .createProduct(
        { sku: "NOPE-001", name: "x", categoryId: "home", price: { currencyCode: "EUR", amountMinor: 1n } },
        as,
      );
    expect(Code[(await failure(create)).code]).toBe("PermissionDenied");
    const [header, payload, signature] = customer.token.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const forged = [
      header,
      Buffer.from(JSON.stringify({ ...claims, role: "admin" })).toString("base64url"),
      signature,
    ].join(".");
    for (const token of ["garbage", `${header}.${payload}`, forged]) {
      const err = await failure(system.client(OrderService).listOrders({}, { headers: bearer(token) }));
      expect(Code[err.code]).toBe("Unauthenticated");
    }
  });
});
