// Reading orders back as the API's Order messages: the row, its lines (in the
// order the customer listed them) and its timeline (oldest first).
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { asc, eq, inArray } from "drizzle-orm";
import { MoneySchema } from "@shop/gen/shop/common/v1/money_pb";
import { OrderSchema, type Order } from "@shop/gen/shop/order/v1/order_pb";
import type { Database } from "@shop/runtime/db/database";
import type { DbOrTx } from "@shop/runtime/events/outbox";
import type * as schema from "./schema.ts";
import {
  orderLines,
  orders,
  orderTimeline,
  type OrderLineRow,
  type OrderRow,
  type OrderTimelineRow,
} from "./schema.ts";
import { paymentFailureFromName, reasonFromName, statusFromName, timelineKindFromName } from "./status-mapping.ts";

export function money(currencyCode: string, amountMinor: bigint) {
  return create(MoneySchema, { currencyCode, amountMinor });
}

export function toOrderMessage(
  row: OrderRow,
  lines: readonly OrderLineRow[],
  timeline: readonly OrderTimelineRow[],
): Order {
  return create(OrderSchema, {
    id: row.id,
    userId: row.userId,
    status: statusFromName(row.status),
    lines: [...lines]
      .sort((a, b) => a.lineNo - b.lineNo)
      .map((l) => ({
        productId: l.productId,
        productName: l.productName,
        quantity: l.quantity,
        unitPrice: money(row.currency, l.unitPriceMinor),
        lineTotal: money(row.currency, l.unitPriceMinor * BigInt(l.quantity)),
        imageUrl: l.imageUrl,
      })),
    total: money(row.currency, row.totalMinor),
    cancellationReason: reasonFromName(row.cancellationReason),
    cancellationDetail: row.cancellationDetail,
    timeline: [...timeline]
      .sort((a, b) => a.id - b.id)
      .map((t) => ({
        occurredAt: timestampFromDate(t.occurredAt),
        status: statusFromName(t.status),
        description: t.description,
        kind: timelineKindFromName(t.kind),
      })),
    createdAt: timestampFromDate(row.createdAt),
    updatedAt: timestampFromDate(row.updatedAt),
    ...(row.shippingAddress && { shippingAddress: row.shippingAddress }),
    contactEmail: row.contactEmail,
    paymentFailureReason: paymentFailureFromName(row.paymentFailureReason),
  });
}

/** Orders with their lines and timelines, in the order of `rows`. */
export async function withDetails(db: DbOrTx, rows: readonly OrderRow[]): Promise<Order[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const lines = await db.select().from(orderLines).where(inArray(orderLines.orderId, ids));
  const timeline = await db
    .select()
    .from(orderTimeline)
    .where(inArray(orderTimeline.orderId, ids))
    .orderBy(asc(orderTimeline.id));
  return rows.map((row) =>
    toOrderMessage(
      row,
      lines.filter((l) => l.orderId === row.id),
      timeline.filter((t) => t.orderId === row.id),
    ),
  );
}

export type OrderDatabase = Database<typeof schema>;

/**
 * Runs `read` in a read-only REPEATABLE READ transaction, so that an order,
 * its lines and its timeline come from one snapshot (a change committed
 * between two of the queries cannot show a timeline ahead of the status).
 */
export function inSnapshot<T>(db: OrderDatabase, read: (tx: DbOrTx) => Promise<T>): Promise<T> {
  return db.transaction(read, { isolationLevel: "repeatable read", accessMode: "read only" });
}

/** One order with its lines and timeline, and the row it was built from; undefined if there is none. */
export function readOrderState(
  db: OrderDatabase,
  orderId: string,
): Promise<{ row: OrderRow; order: Order } | undefined> {
  return inSnapshot(db, async (tx) => {
    const row = (await tx.select().from(orders).where(eq(orders.id, orderId))).at(0);
    return row ? { row, order: (await withDetails(tx, [row]))[0] } : undefined;
  });
}

/** One order with its lines and timeline, or undefined. */
export async function readOrder(db: OrderDatabase, orderId: string): Promise<Order | undefined> {
  return (await readOrderState(db, orderId))?.order;
}
