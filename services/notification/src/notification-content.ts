// What each user-facing event tells the customer: kind, recipient, title,
// body, and the dedupe key naming the event itself (not the message that
// carried it), so that any second delivery of the same event, under whatever
// event id, maps to the same key and is dropped by the unique index. Orders
// and amounts are written the way the web app shows them (the order number,
// English money formatting), so a notification and the order page agree.
import type { UserRegistered } from "@shop/gen/shop/identity/v1/events_pb";
import type { OrderCancelled, OrderConfirmed } from "@shop/gen/shop/order/v1/events_pb";
import { CancellationReason, type ShippingAddress } from "@shop/gen/shop/order/v1/order_pb";
import type { PaymentFailed } from "@shop/gen/shop/payment/v1/events_pb";
import { PaymentFailureReason } from "@shop/gen/shop/payment/v1/payment_pb";
import { moneyText } from "./money-text.ts";
import type { NotificationKindName } from "./schema.ts";

export type NotifyingEvent = UserRegistered | OrderConfirmed | OrderCancelled | PaymentFailed;

export interface NotificationContent {
  kind: NotificationKindName;
  userId: string;
  orderId: string | null;
  title: string;
  body: string;
  dedupeKey: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A malformed event can never become a notification: retrying ends in the dead letters. */
function requireUuid(value: string, field: string, event: NotifyingEvent): string {
  if (!UUID.test(value)) throw new Error(`${event.$typeName}.${field} is not a UUID: ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

/** The order number customers see: the id's last 8 hex digits, upper-case (see Order.id in order.proto). */
export function orderNumber(orderId: string): string {
  return orderId.replaceAll("-", "").slice(-8).toUpperCase();
}

const regionNames = new Intl.DisplayNames(["en"], { type: "region", fallback: "code" });

/** "Ada Lovelace, 12 Harbour Road, Flat 3, Dublin D02 X285, Ireland" */
export function addressText(address: ShippingAddress): string {
  let country = address.countryCode;
  try {
    country = regionNames.of(address.countryCode) ?? address.countryCode;
  } catch {
    // not a region code: keep it as written
  }
  const town = [address.city, address.region, address.postalCode].filter((p) => p.trim() !== "").join(" ");
  return [address.name, address.line1, address.line2, town, country].filter((p) => p.trim() !== "").join(", ");
}

const PAYMENT_FAILURES: Record<PaymentFailureReason, string> = {
  [PaymentFailureReason.UNSPECIFIED]: "the payment was not accepted",
  [PaymentFailureReason.CARD_DECLINED]: "card declined",
  [PaymentFailureReason.INSUFFICIENT_FUNDS]: "insufficient funds",
  [PaymentFailureReason.PROCESSOR_UNAVAILABLE]: "payment processor unavailable",
  [PaymentFailureReason.INVALID_CARD_TOKEN]: "invalid card (the card token is unknown, expired or already used)",
};

function cancellationText(event: OrderCancelled): string {
  const detail = event.detail.trim();
  switch (event.reason) {
    case CancellationReason.OUT_OF_STOCK:
      return `out of stock${detail ? ` (${detail})` : ""}. You have not been charged.`;
    case CancellationReason.PAYMENT_FAILED:
      return `payment failed${detail ? `: ${detail}` : ""}.`;
    case CancellationReason.CUSTOMER_REQUESTED:
      return "you cancelled it. If you were charged, the payment will be refunded.";
    case CancellationReason.TIMED_OUT:
      return `it timed out${detail ? ` (${detail})` : ""}. If you were charged, the payment will be refunded.`;
    default:
      return `${detail || "it could not be completed"}.`;
  }
}

export function notificationContent(event: NotifyingEvent): NotificationContent {
  switch (event.$typeName) {
    case "shop.identity.v1.UserRegistered": {
      const userId = requireUuid(event.userId, "user_id", event);
      const name = event.displayName.trim();
      return {
        kind: "WELCOME",
        userId,
        orderId: null,
        title: name ? `Welcome, ${name}` : "Welcome",
        body: `Your account${event.email ? ` for ${event.email}` : ""} is ready. Happy shopping!`,
        dedupeKey: `welcome:${userId}`,
      };
    }
    case "shop.order.v1.OrderConfirmed": {
      const orderId = requireUuid(event.orderId, "order_id", event);
      const total = event.total ? ` We received your payment of ${moneyText(event.total)}.` : "";
      const shipping = event.shippingAddress ? ` It ships to ${addressText(event.shippingAddress)}.` : "";
      const contact = event.contactEmail ? ` Contact email for this order: ${event.contactEmail}.` : "";
      return {
        kind: "ORDER_CONFIRMED",
        userId: requireUuid(event.userId, "user_id", event),
        orderId,
        title: "Order confirmed",
        body: `Your order ${orderNumber(orderId)} is confirmed.${total}${shipping}${contact}`,
        dedupeKey: `order-confirmed:${orderId}`,
      };
    }
    case "shop.order.v1.OrderCancelled": {
      const orderId = requireUuid(event.orderId, "order_id", event);
      return {
        kind: "ORDER_CANCELLED",
        userId: requireUuid(event.userId, "user_id", event),
        orderId,
        title: "Order cancelled",
        body: `Your order ${orderNumber(orderId)} was cancelled: ${cancellationText(event)}`,
        dedupeKey: `order-cancelled:${orderId}`,
      };
    }
    case "shop.payment.v1.PaymentFailed": {
      const orderId = requireUuid(event.orderId, "order_id", event);
      // An open enum: a reason added after this build has no text here.
      const reason =
        (PAYMENT_FAILURES as Partial<typeof PAYMENT_FAILURES>)[event.reason] ??
        PAYMENT_FAILURES[PaymentFailureReason.UNSPECIFIED];
      return {
        kind: "PAYMENT_FAILED",
        userId: requireUuid(event.userId, "user_id", event),
        orderId,
        title: "Payment failed",
        body: `We could not charge your card for order ${orderNumber(orderId)}: ${reason}.`,
        dedupeKey: `payment-failed:${orderId}`,
      };
    }
  }
}
