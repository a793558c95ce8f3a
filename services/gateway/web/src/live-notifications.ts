// The signed-in user's notifications as they happen: one WatchNotifications
// stream for the whole app while someone is signed in. New ones are announced
// (toasts in an aria-live region) and counted until the notifications page is
// opened.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Notification } from "@shop/gen/shop/notification/v1/notification_pb";
import { storefront } from "./api.ts";
import { followStream } from "./live-stream.ts";
import { session, signOut } from "./session.ts";
import { Store } from "./store.ts";

export interface LiveNotifications {
  /** Received since the page loaded, newest first. */
  received: Notification[];
  /** Shown as toasts until dismissed or timed out. */
  toasts: Notification[];
  unread: number;
}

const TOAST_MS = 8_000;

export const liveNotifications = new Store<LiveNotifications>({ received: [], toasts: [], unread: 0 });

export function dismissToast(id: string): void {
  const state = liveNotifications.get();
  liveNotifications.set({ ...state, toasts: state.toasts.filter((t) => t.id !== id) });
}

export function markAllRead(): void {
  liveNotifications.set({ ...liveNotifications.get(), unread: 0 });
}

function receive(notification: Notification): void {
  const state = liveNotifications.get();
  if (state.received.some((n) => n.id === notification.id)) return;
  liveNotifications.set({
    received: [notification, ...state.received],
    toasts: [notification, ...state.toasts].slice(0, 3),
    unread: state.unread + 1,
  });
  setTimeout(() => dismissToast(notification.id), TOAST_MS);
}

let following: AbortController | undefined;
let followingUser: string | undefined;

function follow(userId: string | undefined): void {
  if (userId === followingUser) return;
  following?.abort();
  following = undefined;
  followingUser = userId;
  liveNotifications.set({ received: [], toasts: [], unread: 0 });
  if (!userId) return;
  const controller = new AbortController();
  following = controller;
  void followStream(
    (signal) => storefront.watchNotifications({}, { signal }),
    {
      onMessage: (res) => res.notification && receive(res.notification),
      onFatal: (error) => {
        if (ConnectError.from(error).code === Code.Unauthenticated) signOut();
      },
    },
    controller.signal,
  );
}

/** Starts following for whoever is signed in, now and after every sign-in/out. */
export function startLiveNotifications(): void {
  follow(session.get()?.user.id);
  session.subscribe((s) => follow(s?.user.id));
}
