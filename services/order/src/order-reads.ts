// Reading orders back as the API's Order messages: the row, its lines (in the
// order the customer listed them) and its timeline (oldest first).
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { asc, eq, inArray, sql } from "drizzle-orm";
import { MoneySchema } from "@shop/gen/shop/common/v1/money_pb";
import { OrderSchema, type Order } from "@shop/gen/shop/order/v1/order_pb";
import { oncePerDatabase, type Database } from "@shop/runtime/db/database";
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

/** An order line or timeline entry as json_build_object gives it (bigints and times as text). */
interface LineJson {
  orderId: string;
  lineNo: number;
  productId: string;
  productName: string;
  quantity: number;
  unitPriceMinor: string;
  imageUrl: string;
}
interface TimelineJson {
  id: number;
  orderId: string;
  occurredAt: string;
  status: OrderTimelineRow["status"];
  description: string;
  kind: OrderTimelineRow["kind"];
}

/** postgres.js parses json itself; a driver that does not hands over the text. */
function fromJson(value: unknown): unknown {
  return typeof value === "string" ? JSON.parse(value) : value;
}

// Built once per database: WatchOrder reads the order after every change,
// and drizzle's query building costs more than the statement itself.
const orderStateQuery = oncePerDatabase((db: OrderDatabase) =>
  db
    .select({
      row: orders,
      lines: sql<unknown>`(select coalesce(json_agg(json_build_object(
        'orderId', l.order_id, 'lineNo', l.line_no, 'productId', l.product_id, 'productName', l.product_name,
        'quantity', l.quantity, 'unitPriceMinor', l.unit_price_minor::text, 'imageUrl', l.image_url)), '[]')
        from ${orderLines} l where l.order_id = ${orders}.id)`,
      timeline: sql<unknown>`(select coalesce(json_agg(json_build_object(
        'id', t.id, 'orderId', t.order_id, 'occurredAt', t.occurred_at, 'status', t.status,
        'description', t.description, 'kind', t.kind) order by t.id), '[]')
        from ${orderTimeline} t where t.order_id = ${orders}.id)`,
    })
    .from(orders)
    .where(eq(orders.id, sql.placeholder("orderId")))
    .prepare("order_state_by_id"),
);

/**
 * One order with its lines and timeline, and the row it was built from;
 * undefined if there is none. One statement, so one snapshot (a change
 * committed meanwhile cannot show a timeline ahead of the status) and one
 * round trip instead of a read-only transaction of five (WatchOrder reads
 * the order again after every change).
 */
export async function readOrderState(
  db: OrderDatabase,
  orderId: string,
): Promise<{ row: OrderRow; order: Order } | undefined> {
  const found = (await orderStateQuery(db).execute({ orderId })).at(0);
  if (!found) return undefined;
  const lines: OrderLineRow[] = (fromJson(found.lines) as LineJson[]).map((l) => ({
    ...l,
    unitPriceMinor: BigInt(l.unitPriceMinor),
  }));
  const timeline: OrderTimelineRow[] = (fromJson(found.timeline) as TimelineJson[]).map((t) => ({
    ...t,
    occurredAt: new Date(t.occurredAt),
  }));
  return { row: found.row, order: toOrderMessage(found.row, lines, timeline) };
}

/** One order with its lines and timeline, or undefined. */
export async function readOrder(db: OrderDatabase, orderId: string): Promise<Order | undefined> {
  return (await readOrderState(db, orderId))?.order;
}
