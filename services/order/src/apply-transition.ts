// Applies a saga decision to an order whose row the caller has locked
// (SELECT ... FOR UPDATE) in the current transaction: the row, a timeline
// entry, the events to publish (outbox) and the change notification all
// commit together or not at all.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { eq, sql } from "drizzle-orm";
import { OrderCancelledSchema, OrderConfirmedSchema } from "@shop/gen/shop/order/v1/events_pb";
import type { DbOrTx, Outbox } from "@shop/runtime/events/outbox";
import { ORDER_CHANGED_CHANNEL } from "./order-change-feed.ts";
import { money } from "./order-reads.ts";
import { waitingFor, type Transition, type WaitingFor } from "./saga.ts";
import type { TimelineEventKind } from "@shop/gen/shop/order/v1/order_pb";
import { orders, orderTimeline, type OrderRow, type OrderStatusName } from "./schema.ts";
import { paymentFailureName, reasonName, statusName, timelineKindName } from "./status-mapping.ts";
import type { PublishedBy } from "@shop/runtime/manifest";
import type { manifest } from "./manifest.ts";

export interface Timeouts {
  pendingTimeoutMs: number;
  paymentTimeoutMs: number;
}

export interface TransitionDeps {
  outbox: Outbox<PublishedBy<typeof manifest>>;
  timeouts: Timeouts;
}

/** `deadline_at` for an order entering a state: the database's clock, so replicas' clocks do not matter. */
export function deadlineFor(waiting: WaitingFor | null, timeouts: Timeouts) {
  if (waiting === null) return null;
  const ms = waiting === "stock" ? timeouts.pendingTimeoutMs : timeouts.paymentTimeoutMs;
  return sql`clock_timestamp() + ${ms}::double precision * interval '1 millisecond'`;
}

/**
 * Appends a timeline entry and tells the order's watchers (NOTIFY, delivered
 * on commit), in one statement: every change to an order does both.
 */
export async function recordTimeline(
  tx: DbOrTx,
  orderId: string,
  status: OrderStatusName,
  kind: TimelineEventKind,
  description: string,
): Promise<void> {
  const insert = tx
    .insert(orderTimeline)
    .values({ orderId, status, kind: timelineKindName(kind), description })
    .returning({ id: orderTimeline.id });
  await tx.execute(
    sql`with inserted as ${insert} select pg_notify(${ORDER_CHANGED_CHANNEL}, ${orderId}) from inserted`,
  );
}

/** Returns the order row after the transition (the same row if nothing changed). */
export async function applyTransition(
  tx: DbOrTx,
  deps: TransitionDeps,
  order: OrderRow,
  transition: Transition,
): Promise<OrderRow> {
  if (transition.kind === "unchanged" || transition.kind === "refused") return order;

  // Statements that do not depend on each other are sent together: the
  // transaction's connection pipelines them, one round trip instead of several.
  if (transition.kind === "note") {
    const [[updated]] = await Promise.all([
      tx
        .update(orders)
        .set({ version: sql`${orders.version} + 1`, updatedAt: sql`clock_timestamp()` })
        .where(eq(orders.id, order.id))
        .returning(),
      recordTimeline(tx, order.id, order.status, transition.event, transition.description),
    ]);
    return updated;
  }

  const status = statusName(transition.status);
  const [updated] = await tx
    .update(orders)
    .set({
      status,
      ...(transition.cancellation && {
        cancellationReason: reasonName(transition.cancellation.reason),
        cancellationDetail: transition.cancellation.detail,
        ...(transition.cancellation.paymentFailure !== undefined && {
          paymentFailureReason: paymentFailureName(transition.cancellation.paymentFailure),
        }),
      }),
      deadlineAt: deadlineFor(waitingFor(transition.status), deps.timeouts),
      version: sql`${orders.version} + 1`,
      updatedAt: sql`clock_timestamp()`,
    })
    .where(eq(orders.id, order.id))
    .returning();

  const at = timestampFromDate(updated.updatedAt);
  const written: Promise<unknown>[] = [recordTimeline(tx, order.id, status, transition.event, transition.description)];
  for (const emission of transition.emit) {
    switch (emission.type) {
      case "OrderConfirmed":
        written.push(
          deps.outbox.enqueue(tx, OrderConfirmedSchema, {
            orderId: order.id,
            userId: order.userId,
            total: money(order.currency, order.totalMinor),
            confirmedAt: at,
            contactEmail: order.contactEmail,
            ...(order.shippingAddress && { shippingAddress: order.shippingAddress }),
          }),
        );
        break;
      case "OrderCancelled":
        written.push(
          deps.outbox.enqueue(tx, OrderCancelledSchema, {
            orderId: order.id,
            userId: order.userId,
            reason: emission.reason,
            detail: emission.detail,
            cancelledAt: at,
          }),
        );
        break;
    }
  }
  await Promise.all(written);
  return updated;
}
