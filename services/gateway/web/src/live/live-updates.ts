// One live connection per browser, shared by all its tabs. A browser talking
// HTTP/1.1 to the shop (`npm start`) has six connections per host for all
// its tabs together, and an open stream holds one for as long as it is open:
// a stream per tab froze the sixth tab. So one tab, the leader (whoever holds
// the Web Lock "shop.live.<user>"; the next tab takes over when it closes),
// holds a single StorefrontService.WatchUpdates stream carrying the
// signed-in user's notifications and every order any tab follows, and
// relays what arrives to the other tabs over a BroadcastChannel. Tabs tell
// the leader which orders they follow; it reopens the stream when that set
// changes. A browser without Web Locks or BroadcastChannel gets one stream
// per tab, open only while the tab is visible.
//
// After every (re)connection the leader lists the latest notifications once
// the stream's first heartbeat says it is live, so nothing created while it
// was reconnecting is missed.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { NotificationSchema, type Notification } from "@shop/gen/shop/notification/v1/notification_pb";
import { OrderSchema, OrderStatus, type Order } from "@shop/gen/shop/order/v1/order_pb";
import { storefront } from "../api.ts";
import { session, signOut } from "../session.ts";
import { Store } from "../store.ts";
import { followStream } from "./follow-stream.ts";

export type LiveStatus = "off" | "connecting" | "live" | "reconnecting";

/** The state of the browser's live connection, in every tab. */
export const liveStatus = new Store<LiveStatus>("off");

type Wire =
  | { type: "interest"; tab: string; orders: string[] }
  | { type: "bye"; tab: string }
  | { type: "leader"; tab: string }
  | { type: "order"; bytes: Uint8Array }
  | { type: "order-not-found"; orderId: string }
  | { type: "notification"; bytes: Uint8Array }
  | { type: "status"; status: LiveStatus };

const CHANNEL = "shop.live";
/** How far back the first catch-up of a new leader looks (the previous leader may have just closed). */
const TAKEOVER_LOOKBACK_MS = 10_000;
/** WatchUpdates follows at most this many orders (the contract's limit); the newest win. */
const MAX_ORDERS = 20;

const isTerminal = (status: OrderStatus) => status === OrderStatus.CONFIRMED || status === OrderStatus.CANCELLED;

class LiveUpdates {
  readonly #tab = Math.random().toString(36).slice(2);
  readonly #shared = "locks" in navigator && typeof BroadcastChannel !== "undefined";
  readonly #channel = this.#shared ? new BroadcastChannel(CHANNEL) : undefined;

  // Every tab: who listens here, and which orders this tab follows (with counts).
  readonly #orderListeners = new Map<string, Set<(order: Order | undefined) => void>>();
  readonly #notificationListeners = new Set<(n: Notification) => void>();
  readonly #anyOrderListeners = new Set<(order: Order) => void>();
  readonly #followed = new Map<string, number>();

  // The leader: every tab's orders, what the open stream follows, what it has sent.
  readonly #interests = new Map<string, string[]>();
  readonly #finished = new Set<string>();
  readonly #dispatched = new Set<string>();
  #leading = false;
  #user: string | undefined;
  #release: (() => void) | undefined;
  #stream: AbortController | undefined;
  #streamOrders = "";
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #catchUpSince = 0;

  constructor() {
    this.#channel?.addEventListener("message", (event: MessageEvent<Wire>) => {
      this.#receive(event.data);
    });
    window.addEventListener("pagehide", (event) => {
      this.#post({ type: "bye", tab: this.#tab });
      // Into the back/forward cache: a frozen page must not keep the lock
      // (no other tab could lead) nor a stream; it follows again if restored.
      if (event.persisted) this.follow(undefined);
    });
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) this.follow(session.get()?.user.id);
    });
    if (!this.#shared) {
      document.addEventListener("visibilitychange", () => {
        this.#restart();
      });
    }
    // A network change (Wi-Fi to cable, a laptop waking up) can leave the
    // stream on a dead connection that would only be noticed when the next
    // heartbeat fails to come: drop it at once and reconnect when back online.
    window.addEventListener("offline", () => {
      if (!this.#leading) return;
      this.#stream?.abort();
      this.#stream = undefined;
      this.#streamOrders = "";
      this.#setStatus("reconnecting");
    });
    window.addEventListener("online", () => {
      if (this.#leading) this.#restart();
    });
  }

  /** Follows the signed-in user (or nobody); called on every sign-in and sign-out. */
  follow(userId: string | undefined): void {
    if (userId === this.#user) return;
    this.#stopLeading();
    this.#user = userId;
    this.#finished.clear();
    this.#dispatched.clear();
    if (!userId) {
      liveStatus.set("off");
      return;
    }
    liveStatus.set("connecting");
    if (!this.#shared) {
      this.#lead(userId);
      return;
    }
    const waiting = new AbortController();
    this.#release = () => {
      waiting.abort();
    };
    void navigator.locks
      .request(`shop.live.${userId}`, { signal: waiting.signal }, () => {
        if (waiting.signal.aborted || this.#user !== userId) return undefined;
        return new Promise<void>((resolve) => {
          this.#release = resolve;
          this.#lead(userId);
        });
      })
      .catch(() => undefined); // aborted while waiting: someone else leads
    // Whoever leads should know what this tab follows.
    this.#announceInterest();
  }

  /** Calls `listener` with `orderId` after every change (undefined: no such order); returns the unfollow. */
  followOrder(orderId: string, listener: (order: Order | undefined) => void): () => void {
    let listeners = this.#orderListeners.get(orderId);
    if (!listeners) this.#orderListeners.set(orderId, (listeners = new Set()));
    listeners.add(listener);
    this.#followed.set(orderId, (this.#followed.get(orderId) ?? 0) + 1);
    this.#announceInterest();
    return () => {
      listeners.delete(listener);
      const count = (this.#followed.get(orderId) ?? 1) - 1;
      if (count > 0) this.#followed.set(orderId, count);
      else this.#followed.delete(orderId);
      this.#announceInterest();
    };
  }

  onNotification(listener: (n: Notification) => void): () => void {
    this.#notificationListeners.add(listener);
    return () => this.#notificationListeners.delete(listener);
  }

  /** Every order update that reaches this tab, whoever follows it. */
  onAnyOrder(listener: (order: Order) => void): () => void {
    this.#anyOrderListeners.add(listener);
    return () => this.#anyOrderListeners.delete(listener);
  }

  /** True in the one tab that holds the connection. */
  get leading(): boolean {
    return this.#leading;
  }

  #post(message: Wire): void {
    this.#channel?.postMessage(message);
  }

  #announceInterest(): void {
    const orders = [...this.#followed.keys()];
    if (this.#leading) {
      this.#interests.set(this.#tab, orders);
      this.#scheduleRestart();
    } else {
      this.#post({ type: "interest", tab: this.#tab, orders });
    }
  }

  #receive(message: Wire): void {
    switch (message.type) {
      case "interest":
        if (!this.#leading) return;
        this.#interests.set(message.tab, message.orders);
        this.#scheduleRestart();
        return;
      case "bye":
        if (this.#leading && this.#interests.delete(message.tab)) this.#scheduleRestart();
        return;
      case "leader":
        this.#post({ type: "interest", tab: this.#tab, orders: [...this.#followed.keys()] });
        return;
      case "order":
        this.#deliverOrder(fromBinary(OrderSchema, message.bytes));
        return;
      case "order-not-found":
        for (const listener of this.#orderListeners.get(message.orderId) ?? []) listener(undefined);
        return;
      case "notification":
        this.#deliverNotification(fromBinary(NotificationSchema, message.bytes));
        return;
      case "status":
        liveStatus.set(message.status);
        return;
    }
  }

  #deliverOrder(order: Order): void {
    for (const listener of this.#anyOrderListeners) listener(order);
    for (const listener of this.#orderListeners.get(order.id) ?? []) listener(order);
  }

  #deliverNotification(notification: Notification): void {
    for (const listener of this.#notificationListeners) listener(notification);
  }

  #setStatus(status: LiveStatus): void {
    liveStatus.set(status);
    this.#post({ type: "status", status });
  }

  #lead(userId: string): void {
    this.#leading = true;
    this.#catchUpSince = Date.now() - TAKEOVER_LOOKBACK_MS;
    this.#interests.clear();
    this.#interests.set(this.#tab, [...this.#followed.keys()]);
    this.#post({ type: "leader", tab: this.#tab });
    if (this.#user === userId) this.#restart();
  }

  #stopLeading(): void {
    this.#stream?.abort();
    this.#stream = undefined;
    this.#streamOrders = "";
    clearTimeout(this.#restartTimer);
    this.#leading = false;
    this.#release?.();
    this.#release = undefined;
  }

  /** The orders the stream should follow: every tab's, less those that are over. */
  #wantedOrders(): string[] {
    const all = new Set<string>();
    for (const orders of this.#interests.values()) for (const id of orders) if (!this.#finished.has(id)) all.add(id);
    return [...all].sort().slice(-MAX_ORDERS);
  }

  #scheduleRestart(): void {
    if (!this.#leading) return;
    clearTimeout(this.#restartTimer);
    // Tabs announce in bursts (a page opening follows several things): one reopen for all.
    this.#restartTimer = setTimeout(() => {
      if (this.#wantedOrders().join(",") !== this.#streamOrders) this.#restart();
    }, 50);
  }

  #restart(): void {
    this.#stream?.abort();
    this.#stream = undefined;
    if (!this.#leading || !this.#user) return;
    if (!this.#shared && document.visibilityState === "hidden") {
      this.#streamOrders = "";
      return;
    }
    const orderIds = this.#wantedOrders();
    this.#streamOrders = orderIds.join(",");
    const controller = new AbortController();
    this.#stream = controller;
    let caughtUp = false;
    // Reopening to follow other orders is not losing the connection: the
    // status stays "live" unless this first attempt fails.
    let firstAttempt = true;
    void followStream(
      (signal) => storefront.watchUpdates({ orderIds }, { signal }),
      {
        onConnected: (connected) => {
          if (connected) this.#setStatus("live");
          else {
            caughtUp = false;
            const status = liveStatus.get();
            if (!(firstAttempt && status === "live"))
              this.#setStatus(status === "live" || status === "reconnecting" ? "reconnecting" : "connecting");
          }
          firstAttempt = false;
        },
        onMessage: ({ update }) => {
          switch (update.case) {
            case "heartbeat":
              if (!caughtUp) void this.#catchUp();
              caughtUp = true;
              return;
            case "order":
              if (isTerminal(update.value.status)) this.#finished.add(update.value.id);
              this.#deliverOrder(update.value);
              this.#post({ type: "order", bytes: toBinary(OrderSchema, update.value) });
              return;
            case "orderNotFound":
              this.#finished.add(update.value);
              for (const listener of this.#orderListeners.get(update.value) ?? []) listener(undefined);
              this.#post({ type: "order-not-found", orderId: update.value });
              return;
            case "notification":
              this.#sendNotification(update.value);
              return;
          }
        },
        onFatal: (error) => {
          if (ConnectError.from(error).code === Code.Unauthenticated) signOut();
          this.#setStatus("off");
        },
      },
      controller.signal,
    );
  }

  #sendNotification(notification: Notification): void {
    if (this.#dispatched.has(notification.id)) return;
    this.#dispatched.add(notification.id);
    this.#deliverNotification(notification);
    this.#post({ type: "notification", bytes: toBinary(NotificationSchema, notification) });
  }

  /** Notifications created while the stream was (re)connecting. */
  async #catchUp(): Promise<void> {
    const since = this.#catchUpSince;
    this.#catchUpSince = Date.now();
    try {
      const { notifications } = await storefront.listNotifications({ pageSize: 20 });
      for (const n of [...notifications].reverse()) {
        if (n.createdAt && timestampMs(n.createdAt) >= since) this.#sendNotification(n);
      }
    } catch {
      // The next reconnection catches up again.
      this.#catchUpSince = since;
    }
  }
}

export const liveUpdates = new LiveUpdates();

/** Starts following whoever is signed in, now and after every sign-in or sign-out. */
export function startLiveUpdates(): void {
  liveUpdates.follow(session.get()?.user.id);
  session.subscribe((s) => {
    liveUpdates.follow(s?.user.id);
  });
}
