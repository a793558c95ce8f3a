// The signed-in user's notifications as they arrive (through the browser's
// one live connection, live/live-updates.ts): announced as toasts, at most one
// per order (a declined card sends "payment failed" and then "order
// cancelled": the toast shows the outcome; see notification-toasts.ts), and
// counted until the notifications page is opened.
import type { Notification } from "@shop/gen/shop/notification/v1/notification_pb";
import { liveUpdates } from "./live/live-updates.ts";
import { withNotification, type LiveNotifications } from "./notification-toasts.ts";
import { session } from "./session.ts";
import { Store } from "./store.ts";

const TOAST_MS = 10_000;

export const liveNotifications = new Store<LiveNotifications>({ received: [], toasts: [], unread: 0 });

export function dismissToast(id: string): void {
  const state = liveNotifications.get();
  liveNotifications.set({ ...state, toasts: state.toasts.filter((t) => t.id !== id) });
}

export function markAllRead(): void {
  if (liveNotifications.get().unread === 0) return;
  liveNotifications.set({ ...liveNotifications.get(), unread: 0 });
}

function receive(notification: Notification): void {
  const state = liveNotifications.get();
  const next = withNotification(state, notification);
  if (next === state) return;
  liveNotifications.set(next);
  setTimeout(() => {
    dismissToast(notification.id);
  }, TOAST_MS);
}

export function startLiveNotifications(): void {
  liveUpdates.onNotification(receive);
  let user = session.get()?.user.id;
  session.subscribe((s) => {
    if (s?.user.id === user) return;
    user = s?.user.id;
    liveNotifications.set({ received: [], toasts: [], unread: 0 });
  });
}
