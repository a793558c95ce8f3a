// What the customer reads for each event, and the dedupe key that makes a
// second delivery of the same event (under any event id) a no-op.
import { create } from "@bufbuild/protobuf";
import { UserRegisteredSchema } from "@shop/gen/shop/identity/v1/events_pb";
import { OrderCancelledSchema, OrderConfirmedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { CancellationReason } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentFailedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { PaymentFailureReason } from "@shop/gen/shop/payment/v1/payment_pb";
import { describe, expect, it } from "vitest";
import { moneyText } from "../src/money-text.ts";
import { notificationContent, orderNumber } from "../src/notification-content.ts";

const userId = "019b76da-a800-7064-9c80-317fa3b1799d";
const orderId = "019b76da-b000-7000-8000-000000000001";

describe("moneyText", () => {
  // Intl separates a code-like symbol from the number with a no-break space.
  const nbsp = (text: string) => text.replace(/ /g, "\u00a0");

  it("formats minor units as the web app does: English format, the currency's own decimals", () => {
    expect(moneyText({ currencyCode: "EUR", amountMinor: 3499n })).toBe("€34.99");
    expect(moneyText({ currencyCode: "EUR", amountMinor: 5n })).toBe("€0.05");
    expect(moneyText({ currencyCode: "EUR", amountMinor: -250n })).toBe("-€2.50");
    expect(moneyText({ currencyCode: "USD", amountMinor: 123456789n })).toBe("$1,234,567.89");
    expect(moneyText({ currencyCode: "JPY", amountMinor: 1500n })).toBe("¥1,500");
    expect(moneyText({ currencyCode: "KWD", amountMinor: 2500n })).toBe(nbsp("KWD 2.500"));
  });

  it("keeps every digit of amounts beyond a double's precision", () => {
    expect(moneyText({ currencyCode: "EUR", amountMinor: 9007199254740993n })).toBe("€90,071,992,547,409.93");
  });
});

describe("orderNumber", () => {
  it("is the id's last 8 hex digits, upper-case", () => {
    expect(orderNumber("019b76da-b000-7000-8000-00005f3a9c21")).toBe("5F3A9C21");
  });
});

describe("notificationContent", () => {
  it("welcomes a new user by name, once per user", () => {
    const c = notificationContent(
      create(UserRegisteredSchema, { userId, email: "ada@shop.test", displayName: " Ada " }),
    );
    expect(c).toMatchObject({
      kind: "WELCOME",
      userId,
      orderId: null,
      title: "Welcome, Ada",
      dedupeKey: `welcome:${userId}`,
    });
    expect(c.body).toContain("ada@shop.test");
  });

  it("confirms an order with its number, total, shipping address and contact email", () => {
    const c = notificationContent(
      create(OrderConfirmedSchema, {
        orderId,
        userId,
        total: { currencyCode: "EUR", amountMinor: 3499n },
        contactEmail: "ada@shop.test",
        shippingAddress: {
          name: "Ada Lovelace",
          line1: "12 Harbour Road",
          line2: "Flat 3",
          city: "Dublin",
          postalCode: "D02 X285",
          countryCode: "IE",
        },
      }),
    );
    expect(c).toMatchObject({
      kind: "ORDER_CONFIRMED",
      orderId,
      title: "Order confirmed",
      dedupeKey: `order-confirmed:${orderId}`,
    });
    expect(c.body).toBe(
      "Your order 00000001 is confirmed. We received your payment of €34.99." +
        " It ships to Ada Lovelace, 12 Harbour Road, Flat 3, Dublin D02 X285, Ireland." +
        " Contact email for this order: ada@shop.test.",
    );
  });

  it("confirms an order placed without an address or contact email without mentioning them", () => {
    const c = notificationContent(create(OrderConfirmedSchema, { orderId, userId }));
    expect(c.body).toBe("Your order 00000001 is confirmed.");
  });

  it.each([
    [CancellationReason.OUT_OF_STOCK, "", "out of stock"],
    [CancellationReason.PAYMENT_FAILED, "card declined", "payment failed: card declined"],
    [CancellationReason.CUSTOMER_REQUESTED, "", "you cancelled it"],
    [CancellationReason.TIMED_OUT, "no answer from payment", "it timed out (no answer from payment)"],
  ])("says why an order was cancelled (%s)", (reason, detail, expected) => {
    const c = notificationContent(create(OrderCancelledSchema, { orderId, userId, reason, detail }));
    expect(c).toMatchObject({
      kind: "ORDER_CANCELLED",
      title: "Order cancelled",
      dedupeKey: `order-cancelled:${orderId}`,
    });
    expect(c.body).toContain(expected);
  });

  it.each([
    [PaymentFailureReason.CARD_DECLINED, "card declined"],
    [PaymentFailureReason.INSUFFICIENT_FUNDS, "insufficient funds"],
    [PaymentFailureReason.PROCESSOR_UNAVAILABLE, "processor unavailable"],
    [PaymentFailureReason.INVALID_CARD_TOKEN, "invalid card"],
  ])("says why a payment failed (%s)", (reason, expected) => {
    const c = notificationContent(create(PaymentFailedSchema, { paymentId: orderId, orderId, userId, reason }));
    expect(c).toMatchObject({
      kind: "PAYMENT_FAILED",
      title: "Payment failed",
      dedupeKey: `payment-failed:${orderId}`,
    });
    expect(c.body).toContain(expected);
  });

  it("normalises id case so one order has one dedupe key", () => {
    const upper = notificationContent(create(OrderConfirmedSchema, { orderId: orderId.toUpperCase(), userId }));
    expect(upper.dedupeKey).toBe(`order-confirmed:${orderId}`);
  });

  it("refuses events without usable ids (they end in the dead letters)", () => {
    expect(() => notificationContent(create(OrderConfirmedSchema, { orderId: "", userId }))).toThrow(/order_id/);
    expect(() => notificationContent(create(UserRegisteredSchema, { userId: "nobody" }))).toThrow(/user_id/);
  });
});
