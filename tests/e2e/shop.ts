// What the end-to-end suites do as shoppers and operators, through the real
// APIs only, and the saga invariants they check afterwards.
import { randomUUID } from "node:crypto";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { NotificationKind, NotificationService } from "@shop/gen/shop/notification/v1/notification_pb";
import { OrderService, OrderStatus, type Order } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentService, PaymentStatus, type Payment } from "@shop/gen/shop/payment/v1/payment_pb";
import { expect } from "vitest";
import { bearer, eventually, type Account } from "../support/system.ts";
import type { ProcessSystem } from "../support/processes.ts";

export const CARDS = {
  approve: "4242424242424242",
  decline: "4000000000000002",
  insufficientFunds: "4000000000009995",
  outage: "4000000000000119",
  outageThenApprove: "4000000000000259",
  slowApprove: "4000000000003063",
} as const;

export const TERMINAL = new Set([OrderStatus.CONFIRMED, OrderStatus.CANCELLED]);

/** A product of its own for one scenario, with `stock` units. */
export async function stockedProduct(system: ProcessSystem, stock: number, priceMinor = 1500n): Promise<string> {
  const headers = bearer(await system.adminToken());
  const sku = `E2E-${randomUUID().slice(0, 8).toUpperCase()}`;
  const { product } = await system.client(CatalogService).createProduct(
    {
      sku,
      name: `E2E product ${sku}`,
      description: "made by an end-to-end test",
      categoryId: "home",
      price: { currencyCode: "EUR", amountMinor: priceMinor },
    },
    { headers },
  );
  if (stock > 0) {
    await system
      .client(InventoryService)
      .restock({ restockId: randomUUID(), productId: product!.id, quantity: BigInt(stock) }, { headers });
  }
  return product!.id;
}

export async function placeOrder(
  system: ProcessSystem,
  customer: Account,
  productId: string,
  options: { quantity?: number; card?: string; cardToken?: string; idempotencyKey?: string } = {},
): Promise<Order> {
  const headers = bearer(customer.token);
  const cardToken = options.cardToken ?? (await tokenizeCard(system, customer, options.card ?? CARDS.approve));
  const { order } = await system.client(OrderService).placeOrder(
    {
      idempotencyKey: options.idempotencyKey ?? `e2e-${randomUUID()}`,
      lines: [{ productId, quantity: options.quantity ?? 1 }],
      cardToken,
    },
    { headers },
  );
  return order!;
}

export async function tokenizeCard(system: ProcessSystem, customer: Account, cardNumber: string): Promise<string> {
  const { cardToken } = await system
    .client(PaymentService)
    .tokenizeCard(
      { cardNumber, expMonth: 12, expYear: new Date().getFullYear() + 2, cvc: "123", cardholderName: "E2E Customer" },
      { headers: bearer(customer.token) },
    );
  return cardToken;
}

export async function getOrder(system: ProcessSystem, token: string, orderId: string): Promise<Order> {
  return (await system.client(OrderService).getOrder({ orderId }, { headers: bearer(token) })).order!;
}

export async function terminalOrder(
  system: ProcessSystem,
  token: string,
  orderId: string,
  timeoutMs = 60_000,
): Promise<Order> {
  return eventually(
    `order ${orderId} to reach a terminal state`,
    async () => {
      const order = await getOrder(system, token, orderId);
      return TERMINAL.has(order.status) ? order : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

export async function stockOf(
  system: ProcessSystem,
  productId: string,
): Promise<{ available: bigint; reserved: bigint }> {
  const { stock } = await system.client(InventoryService).getStock({ productId });
  return { available: stock!.available, reserved: stock!.reserved };
}

export async function paymentsOf(system: ProcessSystem, orderId: string): Promise<Payment[]> {
  const headers = bearer(await system.adminToken());
  return (await system.client(PaymentService).listPayments({ orderId }, { headers })).payments;
}

export async function notificationsOf(system: ProcessSystem, customer: Account) {
  return (
    await system.client(NotificationService).listNotifications({ pageSize: 100 }, { headers: bearer(customer.token) })
  ).notifications;
}

/**
 * DESIGN.md's saga invariants for a set of orders of one product that started
 * with `initialStock` units: every order terminal; stock conserved and nothing
 * left reserved; confirmed orders charged exactly once; cancelled orders not
 * charged or refunded; exactly one confirmation per confirmed order.
 */
export async function expectSagaInvariants(
  system: ProcessSystem,
  orders: { customer: Account; orderId: string; quantity: number }[],
  productId: string,
  initialStock: number,
): Promise<{ confirmed: number; cancelled: number }> {
  let confirmed = 0;
  let cancelled = 0;
  let sold = 0;
  for (const { customer, orderId, quantity } of orders) {
    const order = await terminalOrder(system, customer.token, orderId);
    const payments = await eventually(`payments of ${orderId} to settle`, async () => {
      const list = await paymentsOf(system, orderId);
      return list.every((p) => p.status !== PaymentStatus.PENDING) ? list : undefined;
    });
    const captured = payments.filter((p) => p.status === PaymentStatus.CAPTURED);
    if (order.status === OrderStatus.CONFIRMED) {
      confirmed++;
      sold += quantity;
      expect(captured, `confirmed order ${orderId} is charged exactly once`).toHaveLength(1);
      expect(payments).toHaveLength(1);
    } else {
      cancelled++;
      expect(captured, `cancelled order ${orderId} keeps no charge`).toHaveLength(0);
    }
  }
  // Every reservation is committed or released, and nothing was oversold.
  const stock = await eventually("reservations to settle", async () => {
    const s = await stockOf(system, productId);
    return s.reserved === 0n ? s : undefined;
  });
  expect(stock.available).toBe(BigInt(initialStock - sold));
  expect(stock.available >= 0n).toBe(true);
  // Exactly one confirmation notification per confirmed order.
  const byCustomer = new Map<string, { customer: Account; orders: string[] }>();
  for (const o of orders) {
    const entry = byCustomer.get(o.customer.userId) ?? { customer: o.customer, orders: [] };
    entry.orders.push(o.orderId);
    byCustomer.set(o.customer.userId, entry);
  }
  for (const { customer, orders: ids } of byCustomer.values()) {
    const expected = [];
    for (const id of ids)
      if ((await getOrder(system, customer.token, id)).status === OrderStatus.CONFIRMED) expected.push(id);
    const confirmations = await eventually("confirmation notifications", async () => {
      const list = (await notificationsOf(system, customer)).filter(
        (n) => n.kind === NotificationKind.ORDER_CONFIRMED && ids.includes(n.orderId),
      );
      return list.length >= expected.length ? list : undefined;
    });
    expect(confirmations.map((n) => n.orderId).sort()).toEqual(expected.sort());
  }
  return { confirmed, cancelled };
}
