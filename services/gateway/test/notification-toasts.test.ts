// The storefront's toasts: one per order, showing the order's outcome
// whatever order the notifications reach the tab in (the live stream and the
// catch-up after a reconnection race each other).
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { NotificationKind, NotificationSchema } from "@shop/gen/shop/notification/v1/notification_pb";
import { v7 as uuidv7 } from "uuid";
import { describe, expect, it } from "vitest";
import { MAX_TOASTS, withNotification, type LiveNotifications } from "../web/src/notification-toasts.ts";

const empty: LiveNotifications = { received: [], toasts: [], unread: 0 };
const T0 = Date.parse("2026-12-03T08:00:00Z");

function notification(kind: NotificationKind, orderId: string, atMs: number) {
  return create(NotificationSchema, {
    id: uuidv7({ msecs: atMs }),
    kind,
    orderId,
    title: NotificationKind[kind],
    createdAt: timestampFromMs(atMs),
  });
}

const arrive = (...all: ReturnType<typeof notification>[]) => all.reduce(withNotification, empty);

describe("notification toasts", () => {
  const failed = notification(NotificationKind.PAYMENT_FAILED, "order-1", T0);
  const cancelled = notification(NotificationKind.ORDER_CANCELLED, "order-1", T0 + 5);

  it("show an order's outcome, in whichever order its notifications arrive", () => {
    for (const state of [arrive(failed, cancelled), arrive(cancelled, failed)]) {
      expect(state.toasts.map((t) => t.id)).toEqual([cancelled.id]);
      expect(state.received.map((n) => n.id)).toEqual([cancelled.id, failed.id]);
      expect(state.unread).toBe(2);
    }
  });

  it("let the newer news of an order replace the older when neither is the outcome", () => {
    const retried = notification(NotificationKind.PAYMENT_FAILED, "order-1", T0 + 9);
    expect(arrive(retried, failed).toasts.map((t) => t.id)).toEqual([retried.id]);
    expect(arrive(failed, retried).toasts.map((t) => t.id)).toEqual([retried.id]);
  });

  it("ignore a notification that is already here, and keep one toast per order, at most a few", () => {
    const once = arrive(failed);
    expect(withNotification(once, failed)).toBe(once);

    const welcome = notification(NotificationKind.WELCOME, "", T0 - 100);
    const others = [1, 2, 3, 4].map((i) => notification(NotificationKind.ORDER_CONFIRMED, `order-${i + 1}`, T0 + i));
    const state = arrive(welcome, failed, cancelled, ...others);
    expect(state.toasts).toHaveLength(MAX_TOASTS);
    expect(state.toasts.map((t) => t.orderId)).toEqual(["order-5", "order-4", "order-3"]);
    expect(state.received[state.received.length - 1]?.id).toBe(welcome.id);
    expect(state.unread).toBe(7);
  });
});
