// The notification service against real identity, Postgres and JetStream:
// events published the way the upstream services publish them become exactly
// one notification each, which only their recipient can list and watch.
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { OrderCancelledSchema, OrderConfirmedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { CancellationReason } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentFailedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { PaymentFailureReason } from "@shop/gen/shop/payment/v1/payment_pb";
import {
  NotificationKind,
  NotificationService,
  type Notification,
  type WatchNotificationsResponse,
} from "@shop/gen/shop/notification/v1/notification_pb";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, EventBus } from "@shop/runtime/events/index";
import postgres from "postgres";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogSink } from "../../../tests/observability/log-sink.ts";
import {
  bearer,
  eventually,
  NATS_URL,
  startSystem,
  type Account,
  type TestSystem,
} from "../../../tests/support/system.ts";

let system: TestSystem;
let bus: EventBus;
const logs = new LogSink();
/** Heartbeats arrive after this much silence on a watch (the system's STREAM_HEARTBEAT_MS). */
const HEARTBEAT_MS = 300;
beforeAll(async () => {
  system = await startSystem(["identity", "notification"], {
    env: { STREAM_HEARTBEAT_MS: String(HEARTBEAT_MS), LOG_LEVEL: "info" },
    logs,
  });
  bus = await EventBus.connect({ servers: NATS_URL, naming: system.naming });
});
afterAll(async () => {
  await bus?.close();
  await system?.stop();
});

const notifications = () => system.client(NotificationService);
const EUR = (amountMinor: bigint) => ({ currencyCode: "EUR", amountMinor });

/**
 * Publishes an event as the outbox relay does: Nats-Msg-Id plus the event id
 * and type headers. `msgId` differs from the event id for a replay.
 */
async function publish<D extends DescMessage>(
  schema: D,
  init: MessageInitShape<D>,
  { eventId = uuidv7(), msgId = eventId }: { eventId?: string; msgId?: string } = {},
): Promise<string> {
  const h = natsHeaders();
  h.set(EVENT_ID_HEADER, eventId);
  h.set(EVENT_TYPE_HEADER, schema.typeName);
  await bus.js.publish(system.naming.subject(schema), toBinary(schema, create(schema, init)), {
    msgID: msgId,
    headers: h,
  });
  return eventId;
}

async function listAll(account: Account): Promise<Notification[]> {
  return (await notifications().listNotifications({ pageSize: 100 }, { headers: bearer(account.token) })).notifications;
}

/** Waits until the account has a notification matching `match`. */
function listed(account: Account, what: string, match: (n: Notification) => boolean): Promise<Notification> {
  return eventually(what, async () => (await listAll(account)).find(match));
}

async function expectCode(call: Promise<unknown>, code: Code): Promise<void> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(err, "the call should fail").toBeInstanceOf(ConnectError);
  expect(Code[err!.code]).toBe(Code[code]);
}

/** An open WatchNotifications stream, read one message at a time. */
class Watch {
  readonly #abort = new AbortController();
  readonly #it: AsyncIterator<WatchNotificationsResponse>;
  #pending: Promise<IteratorResult<WatchNotificationsResponse>> | undefined;
  heartbeats = 0;

  constructor(token: string | undefined) {
    const options = { signal: this.#abort.signal, ...(token ? { headers: bearer(token) } : {}) };
    this.#it = notifications().watchNotifications({}, options)[Symbol.asyncIterator]();
  }

  /** The next message, or "timeout" if none arrives within `timeoutMs`; throws when the stream fails or ends. */
  async message(timeoutMs = 30_000): Promise<WatchNotificationsResponse | "timeout"> {
    this.#pending ??= this.#it.next();
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.#pending,
      new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    if (result === "timeout") return result;
    this.#pending = undefined;
    if (result.done) throw new Error("the watch ended");
    if (result.value.heartbeat) this.heartbeats++;
    return result.value;
  }

  /** The next notification (heartbeats skipped), or undefined if none arrives within `timeoutMs`. */
  async next(timeoutMs = 30_000): Promise<Notification | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.message(Math.max(1, deadline - Date.now()));
      if (message === "timeout") return undefined;
      if (message.notification) return message.notification;
    }
  }

  /** The next notification that is not a welcome. */
  async nextOfInterest(timeoutMs = 30_000): Promise<Notification> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = await this.next(Math.max(1, deadline - Date.now()));
      if (!n) throw new Error(`no notification within ${timeoutMs} ms`);
      if (n.kind !== NotificationKind.WELCOME) return n;
    }
  }

  close(): void {
    this.#abort.abort();
  }
}

/**
 * Opens a watch and waits for its first message, the heartbeat that says the
 * watch is registered: from then on, every notification created must come
 * through.
 */
async function liveWatch(account: Account): Promise<Watch> {
  const watch = new Watch(account.token);
  const first = await watch.message();
  if (first === "timeout" || !first.heartbeat) throw new Error("the watch did not start with a heartbeat");
  return watch;
}

describe("notifications from events", () => {
  it("welcomes a user who registers with identity (UserRegistered from the real identity service)", async () => {
    const ada = await system.signUp("Ada Lovelace");
    const welcome = await listed(ada, "the welcome notification", (n) => n.kind === NotificationKind.WELCOME);
    expect(welcome).toMatchObject({ userId: ada.userId, title: "Welcome, Ada Lovelace", orderId: "" });
    expect(welcome.body).toContain(ada.email);
    expect((await listAll(ada)).filter((n) => n.kind === NotificationKind.WELCOME)).toHaveLength(1);
  });

  it("creates one notification per event, whether it is redelivered under the same event id or republished under a new one", async () => {
    const user = await system.signUp();
    const orderId = uuidv7();
    const confirmed = { orderId, userId: user.userId, total: EUR(3499n) };
    const first = await publish(OrderConfirmedSchema, confirmed);
    // The same event id again under a new Nats-Msg-Id (as a dead-letter replay sends it): the inbox drops it.
    await publish(OrderConfirmedSchema, confirmed, { eventId: first, msgId: `${first}-replay` });
    // The same order confirmed again under a new event id (a republish): the dedupe key drops it.
    const republished = await publish(OrderConfirmedSchema, confirmed);
    // One consumer per event type, in order: once this later event is in,
    // every duplicate before it has been handled.
    const marker = uuidv7();
    await publish(OrderConfirmedSchema, { orderId: marker, userId: user.userId, total: EUR(1n) });
    await listed(user, "the marker notification", (n) => n.orderId === marker);

    const forOrder = (await listAll(user)).filter((n) => n.orderId === orderId);
    expect(forOrder).toHaveLength(1);
    expect(forOrder[0]).toMatchObject({
      kind: NotificationKind.ORDER_CONFIRMED,
      title: "Order confirmed",
      userId: user.userId,
    });
    expect(forOrder[0].body).toContain("€34.99");
    // The republished event was handled (its inbox row commits only with a
    // successful handler), not failed on the unique index on its way to the dead letters.
    const db = postgres(system.databaseUrl("notification"), { max: 1, onnotice: () => {} });
    try {
      const handled = await db<
        { message_id: string }[]
      >`select message_id from inbox where message_id in ${db([first, republished])}`;
      expect(handled.map((r) => r.message_id).sort()).toEqual([first, republished].sort());
    } finally {
      await db.end();
    }
  });

  it("says why an order was cancelled and why a payment failed", async () => {
    const user = await system.signUp();
    const declined = uuidv7();
    const outOfStock = uuidv7();
    const byCustomer = uuidv7();
    await publish(PaymentFailedSchema, {
      paymentId: uuidv7(),
      orderId: declined,
      userId: user.userId,
      reason: PaymentFailureReason.INSUFFICIENT_FUNDS,
    });
    await publish(OrderCancelledSchema, {
      orderId: declined,
      userId: user.userId,
      reason: CancellationReason.PAYMENT_FAILED,
      detail: "insufficient funds",
    });
    await publish(OrderCancelledSchema, {
      orderId: outOfStock,
      userId: user.userId,
      reason: CancellationReason.OUT_OF_STOCK,
    });
    await publish(OrderCancelledSchema, {
      orderId: byCustomer,
      userId: user.userId,
      reason: CancellationReason.CUSTOMER_REQUESTED,
    });

    const cancelled = (orderId: string) =>
      listed(
        user,
        `the cancellation of ${orderId}`,
        (n) => n.orderId === orderId && n.kind === NotificationKind.ORDER_CANCELLED,
      );
    expect((await cancelled(declined)).body).toContain("payment failed: insufficient funds");
    expect((await cancelled(outOfStock)).body).toContain("out of stock");
    expect((await cancelled(byCustomer)).body).toContain("you cancelled it");
    const failed = await listed(user, "the payment failure", (n) => n.kind === NotificationKind.PAYMENT_FAILED);
    expect(failed).toMatchObject({ orderId: declined, title: "Payment failed" });
    expect(failed.body).toContain("insufficient funds");
  });
});

describe("listing", () => {
  it("shows each user only their own notifications", async () => {
    const alice = await system.signUp("Alice");
    const bob = await system.signUp("Bob");
    const alicesOrder = uuidv7();
    await publish(OrderConfirmedSchema, { orderId: alicesOrder, userId: alice.userId, total: EUR(500n) });
    await listed(alice, "Alice's confirmation", (n) => n.orderId === alicesOrder);
    await listed(bob, "Bob's welcome", (n) => n.kind === NotificationKind.WELCOME);

    const bobs = await listAll(bob);
    expect(bobs.length).toBeGreaterThan(0);
    expect(bobs.every((n) => n.userId === bob.userId)).toBe(true);
    expect(bobs.some((n) => n.orderId === alicesOrder)).toBe(false);
  });

  it("pages newest first without gaps or repeats, with tokens bound to their user", async () => {
    const user = await system.signUp();
    const orders = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
    for (const orderId of orders)
      await publish(OrderConfirmedSchema, { orderId, userId: user.userId, total: EUR(100n) });
    const all = await eventually("five notifications", async () => {
      const list = await listAll(user);
      return list.length === 5 ? list : undefined;
    });
    expect(all.map((n) => n.id)).toEqual(
      all
        .map((n) => n.id)
        .sort()
        .reverse(),
    );
    // Created in publishing order (one consumer per event type): the newest is the last order.
    expect(all[0].orderId).toBe(orders[3]);

    const pages: Notification[][] = [];
    let pageToken = "";
    do {
      const page = await notifications().listNotifications({ pageSize: 2, pageToken }, { headers: bearer(user.token) });
      pages.push(page.notifications);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat().map((n) => n.id)).toEqual(all.map((n) => n.id));

    const someoneElse = await system.signUp();
    const first = await notifications().listNotifications({ pageSize: 2 }, { headers: bearer(user.token) });
    await expectCode(
      notifications().listNotifications(
        { pageSize: 2, pageToken: first.nextPageToken },
        { headers: bearer(someoneElse.token) },
      ),
      Code.InvalidArgument,
    );
    await expectCode(
      notifications().listNotifications({ pageToken: "garbage" }, { headers: bearer(user.token) }),
      Code.InvalidArgument,
    );
  });
});

describe("watching", () => {
  it("streams a notification created after the watch started", async () => {
    const user = await system.signUp();
    const watch = await liveWatch(user);
    try {
      const orderId = uuidv7();
      await publish(OrderCancelledSchema, {
        orderId,
        userId: user.userId,
        reason: CancellationReason.TIMED_OUT,
        detail: "payment did not answer",
      });
      const n = await watch.nextOfInterest();
      expect(n).toMatchObject({ orderId, userId: user.userId, kind: NotificationKind.ORDER_CANCELLED });
      expect(n.body).toContain("it timed out");
      // The same notification as the list shows, not a copy with another id.
      expect((await listAll(user)).find((x) => x.orderId === orderId)?.id).toBe(n.id);
    } finally {
      watch.close();
    }
  });

  it("does not stream another user's notifications", async () => {
    const carol = await system.signUp();
    const dave = await system.signUp();
    const watch = await liveWatch(carol);
    try {
      const davesOrder = uuidv7();
      await publish(OrderConfirmedSchema, { orderId: davesOrder, userId: dave.userId, total: EUR(700n) });
      await listed(dave, "Dave's confirmation", (n) => n.orderId === davesOrder);
      // Committed after Dave's: had Dave's reached Carol's stream, it would come first.
      const carolsOrder = uuidv7();
      await publish(OrderConfirmedSchema, { orderId: carolsOrder, userId: carol.userId, total: EUR(800n) });
      const n = await watch.nextOfInterest();
      expect(n).toMatchObject({ orderId: carolsOrder, userId: carol.userId });
    } finally {
      watch.close();
    }
  });

  it("still delivers after the LISTEN connection is dropped", async () => {
    const user = await system.signUp();
    const watch = await liveWatch(user);
    const admin = postgres(system.databaseUrl("notification"), { max: 1, onnotice: () => {} });
    try {
      const killed = await admin`
        select pg_terminate_backend(pid) from pg_stat_activity
        where datname = current_database() and query ilike 'listen%notification_created%'`;
      expect(killed.length).toBe(1);
      const orderId = uuidv7();
      await publish(OrderConfirmedSchema, { orderId, userId: user.userId, total: EUR(900n) });
      expect(await watch.nextOfInterest()).toMatchObject({ orderId, userId: user.userId });
    } finally {
      watch.close();
      await admin.end();
    }
  });
});

describe("heartbeats", () => {
  it("come first once the watch is registered, then whenever nothing was sent for STREAM_HEARTBEAT_MS", async () => {
    const user = await system.signUp();
    // The welcome is in before the watch starts: nothing else is sent to this user by itself.
    await listed(user, "the welcome", (n) => n.kind === NotificationKind.WELCOME);
    const watch = await liveWatch(user);
    try {
      const quiet = await watch.message();
      expect(quiet !== "timeout" && quiet.heartbeat && quiet.notification === undefined).toBe(true);
      const orderId = uuidv7();
      await publish(OrderConfirmedSchema, { orderId, userId: user.userId, total: EUR(100n) });
      expect(await watch.nextOfInterest()).toMatchObject({ orderId });
      const after = await watch.message();
      expect(after !== "timeout" && after.heartbeat).toBe(true);
    } finally {
      watch.close();
    }
  });

  it("a watch whose client goes away finishes on the server, at any moment", async () => {
    const user = await system.signUp();
    const watchEnds = () =>
      logs
        .records()
        .filter(
          (r) =>
            r.service === "notification" &&
            r.msg === "rpc" &&
            (r.rpc as { method: string }).method === "WatchNotifications",
        )
        .map((r) => r.code as string);
    const before = watchEnds().length;
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const watch = await liveWatch(user);
        await new Promise((resolve) => setTimeout(resolve, i % 5));
        watch.close();
      }),
    );
    await eventually("every watch to finish", () => watchEnds().length === before + 20);
    expect(watchEnds().slice(before)).toEqual(Array<string>(20).fill("canceled"));
  });
});

describe("authentication", () => {
  it("refuses anonymous and tampered callers", async () => {
    const user = await system.signUp();
    await expectCode(notifications().listNotifications({}), Code.Unauthenticated);
    const tampered = `${user.token.slice(0, -4)}${user.token.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    await expectCode(notifications().listNotifications({}, { headers: bearer(tampered) }), Code.Unauthenticated);
    await expectCode(new Watch(undefined).next(), Code.Unauthenticated);
    await expectCode(new Watch(tampered).next(), Code.Unauthenticated);
  });
});

describe("shutdown", () => {
  // Last: it stops the notification service.
  it("ends open watches with Unavailable when the server drains, so clients watch again elsewhere", async () => {
    const user = await system.signUp();
    const watch = await liveWatch(user);
    const stopping = system.stopService("notification");
    await expectCode(watch.nextOfInterest(), Code.Unavailable);
    await stopping;
  });
});
