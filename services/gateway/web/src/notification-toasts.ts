// What the live notifications look like after one more arrives: the list,
// newest first, and the toasts, at most one per order showing its latest
// news. Pure, so the rules can be tested without a browser.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { NotificationKind, type Notification } from "@shop/gen/shop/notification/v1/notification_pb";

export interface LiveNotifications {
  /** Received since the page loaded, newest first. */
  received: Notification[];
  /** Shown as toasts until dismissed or timed out, newest first. */
  toasts: Notification[];
  unread: number;
}

export const MAX_TOASTS = 3;

const isOutcome = (n: Notification) =>
  n.kind === NotificationKind.ORDER_CONFIRMED || n.kind === NotificationKind.ORDER_CANCELLED;
const createdMs = (n: Notification) => (n.createdAt ? timestampMs(n.createdAt) : 0);

/** The order's outcome outranks what led to it; otherwise the newer news wins. */
function supersedes(a: Notification, b: Notification): boolean {
  if (isOutcome(a) !== isOutcome(b)) return isOutcome(a);
  return createdMs(a) >= createdMs(b);
}

/** The state after `notification` arrives; the same state if it was already here. */
export function withNotification(state: LiveNotifications, notification: Notification): LiveNotifications {
  if (state.received.some((n) => n.id === notification.id)) return state;
  // Notifications reach a tab in no fixed order (the live stream and the
  // catch-up after a reconnection race): "payment failed" may come after
  // "order cancelled", and must not replace it.
  const sameOrder = (n: Notification) => notification.orderId !== "" && n.orderId === notification.orderId;
  const shown = state.toasts.find(sameOrder);
  const toasts =
    shown && !supersedes(notification, shown)
      ? state.toasts
      : [notification, ...state.toasts.filter((t) => !sameOrder(t))].slice(0, MAX_TOASTS);
  return {
    // Ids are UUIDv7: sorting them sorts by creation time.
    received: [notification, ...state.received].sort((a, b) => b.id.localeCompare(a.id)),
    toasts,
    unread: state.unread + 1,
  };
}
