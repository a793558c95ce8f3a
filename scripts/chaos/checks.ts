// After the faults: wait until the system is quiet, then check every saga
// invariant of DESIGN.md, with SQL against each service's own database and
// JetStream's consumer state, and through the public APIs, one line per check.
import { Code, ConnectError } from "@connectrpc/connect";
import type { JetStreamManager } from "@nats-io/jetstream";
import { EventBus, EventNaming } from "@shop/runtime/events/index";
import { NotificationKind, NotificationService } from "@shop/gen/shop/notification/v1/notification_pb";
import { OrderStatus } from "@shop/gen/shop/order/v1/order_pb";
import postgres, { type Sql } from "postgres";
import { Http2Clients } from "../load/http2-clients.ts";
import { waitForHealthy } from "../start/health.ts";
import { databaseName, withDatabase } from "../start/services.ts";
import type { ShopProcess } from "./shop-process.ts";
import { must } from "./random.ts";
import type { Workload } from "./workload.ts";

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

/** Connections to every service database and to JetStream, for the checks. */
export class Observer {
  readonly db = new Map<string, Sql>();
  constructor(
    readonly shop: ShopProcess,
    readonly jsm: JetStreamManager,
    readonly bus: EventBus,
  ) {
    for (const service of shop.databases) {
      this.db.set(
        service,
        postgres(withDatabase(shop.postgresUrl, databaseName(service)), {
          max: 2,
          onnotice: () => {},
          idle_timeout: 5,
        }),
      );
    }
  }

  static async connect(shop: ShopProcess): Promise<Observer> {
    const bus = await EventBus.connect({ servers: shop.natsUrl, naming: new EventNaming() });
    return new Observer(shop, bus.jsm, bus);
  }

  sql(service: string): Sql {
    return must(this.db.get(service), `the ${service} database`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.db.values()].map((sql) => sql.end({ timeout: 2 })));
    await this.bus.close();
  }

  /** Every JetStream durable consumer with its stream, filter and what it still has to do. */
  async consumers(): Promise<{ stream: string; name: string; filter: string; pending: number; ackPending: number }[]> {
    const result = [];
    for await (const stream of this.jsm.streams.names()) {
      for await (const info of this.jsm.consumers.list(stream)) {
        result.push({
          stream,
          name: info.name,
          filter: info.config.filter_subject ?? "",
          pending: info.num_pending,
          ackPending: info.num_ack_pending,
        });
      }
    }
    return result;
  }

  /** What is still moving: orders not terminal, reservations held, payments pending, events unsent or unconsumed. */
  async busy(): Promise<string[]> {
    const busy: string[] = [];
    const [orders] = await this.sql("order")<
      { n: number }[]
    >`select count(*)::int as n from orders where status not in ('CONFIRMED', 'CANCELLED')`;
    if (orders.n > 0) busy.push(`${orders.n} orders not terminal`);
    const [held] = await this.sql("inventory")<
      { n: number }[]
    >`select count(*)::int as n from reservations where status = 'RESERVED'`;
    if (held.n > 0) busy.push(`${held.n} reservations held`);
    const [pending] = await this.sql("payment")<
      { n: number }[]
    >`select count(*)::int as n from payments where status = 'PENDING'`;
    if (pending.n > 0) busy.push(`${pending.n} payments pending`);
    for (const service of this.shop.databases) {
      const [unsent] = await this.sql(service)<
        { n: number }[]
      >`select count(*)::int as n from outbox where published_at is null`;
      if (unsent.n > 0) busy.push(`${service}: ${unsent.n} events unsent`);
    }
    for (const c of await this.consumers()) {
      if (c.pending + c.ackPending > 0) busy.push(`${c.name}: ${c.pending + c.ackPending} events unconsumed`);
    }
    return busy;
  }
}

/**
 * Polls until nothing is moving (twice in a row) or `timeoutMs` passes;
 * resolves with what was still moving at the end (empty when quiet).
 */
export async function waitForQuiescence(observer: Observer, timeoutMs: number): Promise<string[]> {
  const giveUpAt = performance.now() + timeoutMs;
  let quietPolls = 0;
  let last: string[] = ["not checked yet"];
  while (performance.now() < giveUpAt) {
    try {
      last = await observer.busy();
    } catch (error) {
      last = [`cannot observe: ${(error as Error).message}`];
    }
    quietPolls = last.length === 0 ? quietPolls + 1 : 0;
    if (quietPolls >= 2) return [];
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return last;
}

interface OrderRow {
  id: string;
  user_id: string;
  status: string;
  cancellation_reason: string | null;
  total_minor: string;
  idempotency_key: string;
}

const count = <T>(items: Iterable<T>, key: (item: T) => string) => {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
};
const sample = (items: readonly string[], n = 3) =>
  items.length === 0
    ? ""
    : ` (${items.slice(0, n).join("; ")}${items.length > n ? `; … ${items.length - n} more` : ""})`;

export async function runChecks(observer: Observer, workload: Workload, stillBusy: string[]): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const check = (name: string, problems: string[], detail: string) =>
    results.push({
      name,
      ok: problems.length === 0,
      detail: problems.length === 0 ? detail : `${problems.length} violation(s)${sample(problems)}`,
    });

  const order = observer.sql("order");
  const inventory = observer.sql("inventory");
  const payment = observer.sql("payment");
  const notification = observer.sql("notification");

  check("the system became quiet after the faults", stillBusy, "no order, reservation, payment or event in flight");

  const orders = await order<
    OrderRow[]
  >`select id, user_id, status, cancellation_reason, total_minor::text, idempotency_key from orders`;
  const byId = new Map(orders.map((o) => [o.id, o]));
  const lines = await order<{ order_id: string; product_id: string; quantity: number }[]>`
    select order_id, product_id, quantity from order_lines`;
  const confirmed = orders.filter((o) => o.status === "CONFIRMED");
  const cancelled = orders.filter((o) => o.status === "CANCELLED");
  const reasons = [...count(cancelled, (o) => o.cancellation_reason ?? "?")].map(([r, n]) => `${n} ${r}`).join(", ");

  // 1. Every order reached exactly one terminal state.
  check(
    "every order is terminal (CONFIRMED or CANCELLED)",
    orders.filter((o) => o.status !== "CONFIRMED" && o.status !== "CANCELLED").map((o) => `${o.id} ${o.status}`),
    `${orders.length} orders: ${confirmed.length} confirmed, ${cancelled.length} cancelled (${reasons || "none"})`,
  );

  // 2. The client's view: every order it was told about exists, one per idempotency key; every order it placed was answered.
  const known = workload.orders.filter((o) => o.orderId);
  const keys = new Map(orders.map((o) => [o.idempotency_key, o.id]));
  check(
    "every order the client placed exists once, under its idempotency key",
    known
      .filter((o) => keys.get(o.idempotencyKey) !== o.orderId)
      .map((o) => `${o.idempotencyKey} → ${o.orderId} not found`),
    `${known.length} placed by the client, ${orders.length} in the order database`,
  );
  const unanswered = workload.orders.filter((o) => o.placed !== "ok");
  check(
    "every order the client tried was placed (retries with the same key)",
    unanswered.map((o) => `#${o.index} ${o.placed ?? "never finished"}`),
    `${workload.orders.length} tried, ${known.length} placed`,
  );
  const cancelRequests = workload.orders.filter((o) => o.scenario === "cancel" && o.orderId);
  check(
    "every cancellation the client asked for was answered",
    cancelRequests
      .filter((o) => o.cancel !== "cancelled" && o.cancel !== "too late")
      .map((o) => `${o.orderId} ${o.cancel ?? "no answer"}`),
    `${cancelRequests.filter((o) => o.cancel === "cancelled").length} cancelled, ${cancelRequests.filter((o) => o.cancel === "too late").length} already confirmed`,
  );
  const cancelledByClient = cancelRequests.filter((o) => o.cancel === "cancelled");
  check(
    "an order the client cancelled stays cancelled",
    cancelledByClient
      .filter((o) => byId.get(o.orderId ?? "")?.status !== "CANCELLED")
      .map((o) => `${o.orderId} is ${byId.get(o.orderId ?? "")?.status}`),
    `${cancelledByClient.length} orders`,
  );

  // 3. Stock: never negative, every reservation settled, conserved per product, nothing oversold.
  const stock = await inventory<{ product_id: string; available: string; reserved: string }[]>`
    select product_id, available::text, reserved::text from stock`;
  const restocked = await inventory<{ product_id: string; total: string }[]>`
    select product_id, sum(quantity)::text as total from restocks group by product_id`;
  const reservations = await inventory<
    { order_id: string; status: string; lines: { productId: string; quantity: number }[] }[]
  >`
    select order_id, status, lines from reservations`;
  check(
    "stock is never negative",
    stock
      .filter((s) => BigInt(s.available) < 0n || BigInt(s.reserved) < 0n)
      .map((s) => `${s.product_id} ${s.available}/${s.reserved}`),
    `${stock.length} products`,
  );
  const held = reservations.filter((r) => r.status === "RESERVED");
  check(
    "every reservation is committed or released",
    [
      ...held.map((r) => `${r.order_id} still RESERVED`),
      ...stock.filter((s) => BigInt(s.reserved) !== 0n).map((s) => `${s.product_id} has ${s.reserved} reserved`),
    ],
    `${reservations.length} reservations: ${[...count(reservations, (r) => r.status)].map(([s, n]) => `${n} ${s}`).join(", ")}`,
  );
  const committedUnits = new Map<string, bigint>();
  for (const r of reservations.filter((r) => r.status === "COMMITTED")) {
    for (const l of r.lines)
      committedUnits.set(l.productId, (committedUnits.get(l.productId) ?? 0n) + BigInt(l.quantity));
  }
  const restockedUnits = new Map(restocked.map((r) => [r.product_id, BigInt(r.total)]));
  check(
    "stock is conserved per product (restocked = available + reserved + committed)",
    stock
      .filter((s) => restockedUnits.has(s.product_id))
      .filter(
        (s) =>
          (restockedUnits.get(s.product_id) ?? 0n) !==
          BigInt(s.available) + BigInt(s.reserved) + (committedUnits.get(s.product_id) ?? 0n),
      )
      .map(
        (s) =>
          `${s.product_id}: restocked ${restockedUnits.get(s.product_id)} ≠ ${s.available} + ${s.reserved} + ${committedUnits.get(s.product_id) ?? 0n}`,
      ),
    `${restockedUnits.size} products restocked by this run`,
  );
  const soldUnits = new Map<string, bigint>();
  for (const l of lines) {
    if (byId.get(l.order_id)?.status === "CONFIRMED")
      soldUnits.set(l.product_id, (soldUnits.get(l.product_id) ?? 0n) + BigInt(l.quantity));
  }
  check(
    "committed stock is exactly what confirmed orders bought (nothing oversold)",
    [...new Set([...soldUnits.keys(), ...committedUnits.keys()])]
      .filter((p) => (soldUnits.get(p) ?? 0n) !== (committedUnits.get(p) ?? 0n))
      .map((p) => `${p}: sold ${soldUnits.get(p) ?? 0n}, committed ${committedUnits.get(p) ?? 0n}`),
    `${[...soldUnits.values()].reduce((a, b) => a + b, 0n)} units sold`,
  );
  const reservationOf = new Map(reservations.map((r) => [r.order_id, r]));
  check(
    "each order's reservation agrees with it (CONFIRMED → COMMITTED, CANCELLED → not held)",
    orders.flatMap((o) => {
      const r = reservationOf.get(o.id)?.status;
      if (o.status === "CONFIRMED" && r !== "COMMITTED") return [`${o.id} CONFIRMED, reservation ${r ?? "none"}`];
      if (o.status === "CANCELLED" && (r === "COMMITTED" || r === "RESERVED"))
        return [`${o.id} CANCELLED, reservation ${r}`];
      return [];
    }),
    `${orders.length} orders`,
  );
  const sellsOut = workload.productIds.sellsOut;
  const scarce = stock.find((s) => s.product_id === sellsOut);
  const outOfStock = cancelled.filter((o) => o.cancellation_reason === "OUT_OF_STOCK").length;
  const demand = known.filter((o) => o.productId === sellsOut).reduce((n, o) => n + BigInt(o.quantity), 0n);
  const supply = restockedUnits.get(sellsOut) ?? 0n;
  check(
    "orders beyond the stock of the product that sells out were cancelled OUT_OF_STOCK",
    demand > supply && outOfStock === 0
      ? [`${demand} units ordered, ${supply} in stock, no order cancelled OUT_OF_STOCK`]
      : [],
    `${demand} units ordered of ${supply}; ${scarce?.available ?? "?"} left, ${outOfStock} orders cancelled OUT_OF_STOCK`,
  );

  // 4. Payments: one capture per confirmed order, none kept for a cancelled one, refunds where due.
  const payments = await payment<
    { order_id: string; status: string; amount_minor: string | null; processor_charge_id: string | null }[]
  >`
    select order_id, status, amount_minor::text, processor_charge_id from payments`;
  const charges = await payment<
    { idempotency_key: string; outcome: string | null; refund_id: string | null; amount_minor: string }[]
  >`
    select idempotency_key, outcome, refund_id, amount_minor::text from processor_charges`;
  const paymentsOf = count(payments, (p) => p.order_id);
  const paymentOf = new Map(payments.map((p) => [p.order_id, p]));
  const chargeOf = new Map(charges.map((c) => [c.idempotency_key, c]));
  check(
    "exactly one capture per confirmed order, for its total",
    confirmed.flatMap((o) => {
      const p = paymentOf.get(o.id);
      const c = chargeOf.get(o.id);
      if ((paymentsOf.get(o.id) ?? 0) !== 1) return [`${o.id}: ${paymentsOf.get(o.id) ?? 0} payments`];
      if (p?.status !== "CAPTURED") return [`${o.id}: payment ${p?.status}`];
      if (c?.outcome !== "APPROVED" || c.refund_id)
        return [`${o.id}: processor ${c?.outcome ?? "no charge"}${c?.refund_id ? ", refunded" : ""}`];
      if (BigInt(c.amount_minor) !== BigInt(o.total_minor) || BigInt(p.amount_minor ?? -1) !== BigInt(o.total_minor)) {
        return [`${o.id}: charged ${c.amount_minor}, order total ${o.total_minor}`];
      }
      return [];
    }),
    `${confirmed.length} captures`,
  );
  const refunded = cancelled.filter((o) => chargeOf.get(o.id)?.outcome === "APPROVED");
  check(
    "no cancelled order keeps a charge (an approved charge was refunded)",
    cancelled.flatMap((o) => {
      const p = paymentOf.get(o.id);
      const c = chargeOf.get(o.id);
      if (p?.status === "CAPTURED" || p?.status === "PENDING") return [`${o.id}: payment ${p.status}`];
      if (c?.outcome === "APPROVED" && !c.refund_id) return [`${o.id}: charge approved, never refunded`];
      if (c?.outcome === "APPROVED" && p?.status !== "REFUNDED")
        return [`${o.id}: refunded at the processor, payment ${p?.status}`];
      return [];
    }),
    `${refunded.length} refunds for ${cancelled.length} cancelled orders`,
  );
  check(
    "every payment and processor charge belongs to an order",
    [
      ...payments.filter((p) => !byId.has(p.order_id)).map((p) => `payment for unknown order ${p.order_id}`),
      ...charges
        .filter((c) => !byId.has(c.idempotency_key))
        .map((c) => `charge for unknown order ${c.idempotency_key}`),
    ],
    `${payments.length} payments, ${charges.length} processor charges`,
  );

  // 5. Notifications: one confirmation per confirmed order, none for a cancelled one.
  const confirmations = await notification<{ order_id: string; n: number }[]>`
    select order_id::text, count(*)::int as n from notifications where kind = 'ORDER_CONFIRMED' group by order_id`;
  const confirmationsOf = new Map(confirmations.map((c) => [c.order_id, c.n]));
  check(
    "exactly one confirmation notification per confirmed order, none for cancelled ones",
    [
      ...confirmed
        .filter((o) => confirmationsOf.get(o.id) !== 1)
        .map((o) => `${o.id}: ${confirmationsOf.get(o.id) ?? 0} confirmations`),
      ...cancelled
        .filter((o) => confirmationsOf.has(o.id))
        .map((o) => `${o.id} CANCELLED but confirmed to the customer`),
    ],
    `${confirmations.length} confirmations`,
  );

  // 6. Events: outboxes drained, every published event consumed by every durable consumer of it (or parked).
  const unsent: string[] = [];
  const published = new Map<string, string[]>();
  const inboxes = new Map<string, Set<string>>();
  const letters: { service: string; consumer: string; eventId: string; eventType: string; error: string }[] = [];
  for (const service of observer.shop.databases) {
    const sql = observer.sql(service);
    const rows = await sql<{ id: string; subject: string; published: boolean }[]>`
      select id::text, subject, published_at is not null as published from outbox`;
    for (const r of rows) {
      if (!r.published) unsent.push(`${service}: ${r.id} ${r.subject}`);
      else published.set(r.subject, [...(published.get(r.subject) ?? []), r.id]);
    }
    for (const r of await sql<{ consumer: string; message_id: string }[]>`select consumer, message_id from inbox`) {
      const set = inboxes.get(r.consumer) ?? new Set();
      set.add(r.message_id);
      inboxes.set(r.consumer, set);
    }
    for (const d of await sql<{ consumer: string; event_id: string; event_type: string; error: string }[]>`
      select consumer, event_id, event_type, error from dead_letters`) {
      letters.push({ service, consumer: d.consumer, eventId: d.event_id, eventType: d.event_type, error: d.error });
    }
  }
  const totalPublished = [...published.values()].reduce((n, ids) => n + ids.length, 0);
  check("every outbox is drained (every event published)", unsent, `${totalPublished} events published`);

  const consumers = await observer.consumers();
  check(
    "every durable consumer is caught up (nothing pending or unacknowledged)",
    consumers
      .filter((c) => c.pending + c.ackPending > 0)
      .map((c) => `${c.name}: ${c.pending} pending, ${c.ackPending} unacknowledged`),
    `${consumers.length} durable consumers`,
  );
  const lost: string[] = [];
  let deliveries = 0;
  for (const c of consumers) {
    const seen = inboxes.get(c.name) ?? new Set<string>();
    const parked = new Set(letters.filter((l) => l.consumer === c.name).map((l) => l.eventId));
    for (const id of published.get(c.filter) ?? []) {
      deliveries++;
      if (!seen.has(id) && !parked.has(id)) lost.push(`${c.name} never processed ${id}`);
    }
  }
  check(
    "no event lost: every published event reached every consumer of it",
    lost,
    `${deliveries} (event, consumer) pairs`,
  );
  check(
    "dead letters explained (each names its error; none parked by an outage)",
    letters
      .filter(
        (l) =>
          !l.error.trim() ||
          /ECONNREFUSED|ECONNRESET|connection|terminating|shutting down|starting up|Unavailable/i.test(l.error),
      )
      .map((l) => `${l.consumer} ${l.eventType} ${l.eventId}: ${l.error.split("\n")[0]}`),
    letters.length === 0
      ? "no dead letters"
      : `${letters.length} dead letter(s)${sample(letters.map((l) => `${l.consumer}: ${l.error.split("\n")[0]}`))}`,
  );

  // 7. Through the public APIs.
  check(
    "no call answered Internal, Unknown or DataLoss",
    workload.faults,
    [...workload.answers]
      .map(([k, n]) => `${k} ${n}`)
      .sort()
      .join(", "),
  );
  const apiMismatches: string[] = [];
  const target = workload.targets[0];
  for (const o of known) {
    try {
      const id = must(o.orderId, "order id");
      const now = await target.getOrder(workload.customers[o.customer], id);
      if (OrderStatus[now.status] !== byId.get(id)?.status)
        apiMismatches.push(`${o.orderId}: API ${OrderStatus[now.status]}, database ${byId.get(id)?.status}`);
    } catch (error) {
      apiMismatches.push(`${o.orderId}: GetOrder ${Code[ConnectError.from(error).code]}`);
    }
  }
  check("GetOrder shows every order in its terminal state", apiMismatches, `${known.length} orders read back`);

  const clients = new Http2Clients();
  const notifications = clients.client(NotificationService, observer.shop.of("notification")[0].address);
  const listed: string[] = [];
  for (const [i, customer] of workload.customers.entries()) {
    const mine = new Set(
      known.flatMap((o) =>
        o.customer === i && o.orderId && byId.get(o.orderId)?.status === "CONFIRMED" ? [o.orderId] : [],
      ),
    );
    const seen = new Map<string, number>();
    let pageToken = "";
    try {
      do {
        const page = await notifications.listNotifications({ pageSize: 100, pageToken }, { headers: customer.headers });
        for (const n of page.notifications)
          if (n.kind === NotificationKind.ORDER_CONFIRMED) seen.set(n.orderId, (seen.get(n.orderId) ?? 0) + 1);
        pageToken = page.nextPageToken;
      } while (pageToken);
    } catch (error) {
      listed.push(`${customer.email}: ListNotifications ${Code[ConnectError.from(error).code]}`);
      continue;
    }
    for (const id of mine)
      if (seen.get(id) !== 1) listed.push(`${customer.email}: ${seen.get(id) ?? 0} confirmations of ${id}`);
    for (const id of seen.keys())
      if (!mine.has(id) && known.some((o) => o.orderId === id))
        listed.push(`${customer.email}: confirmation of ${id}, which is not confirmed`);
  }
  clients.close();
  check(
    "ListNotifications shows each customer one confirmation per confirmed order",
    listed,
    `${workload.customers.length} customers`,
  );

  const unhealthy: string[] = [];
  await Promise.all(
    observer.shop.instances.map((i) =>
      waitForHealthy([i], { timeoutMs: 30_000 }).catch((error: unknown) =>
        unhealthy.push(`${i.name}: ${(error as Error).message}`),
      ),
    ),
  );
  check("every service instance is serving at the end", unhealthy, `${observer.shop.instances.length} instances`);
  return results;
}
