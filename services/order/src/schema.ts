// The order service's tables: orders, their lines, and each order's timeline.
// Money is integer minor units plus the order's currency (every line of an
// order is priced in the same currency). `deadline_at` is when the order's
// current waiting state times out (null once terminal); the timeout sweeper
// reads it through a partial index.
import { sql } from "drizzle-orm";
import {
  bigint,
  index,
  integer,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";

export const ORDER_STATUSES = ["PENDING", "AWAITING_PAYMENT", "CONFIRMED", "CANCELLED"] as const;
export type OrderStatusName = (typeof ORDER_STATUSES)[number];

export const CANCELLATION_REASONS = ["OUT_OF_STOCK", "PAYMENT_FAILED", "CUSTOMER_REQUESTED", "TIMED_OUT"] as const;
export type CancellationReasonName = (typeof CANCELLATION_REASONS)[number];

export const orderStatus = pgEnum("order_status", ORDER_STATUSES);
export const cancellationReason = pgEnum("cancellation_reason", CANCELLATION_REASONS);

export const orders = pgTable(
  "orders",
  {
    /** UUIDv7: ordering by id is ordering by placement time. */
    id: uuid("id").primaryKey(),
    userId: uuid("user_id").notNull(),
    status: orderStatus("status").notNull(),
    totalMinor: bigint("total_minor", { mode: "bigint" }).notNull(),
    currency: text("currency").notNull(),
    cancellationReason: cancellationReason("cancellation_reason"),
    cancellationDetail: text("cancellation_detail").notNull().default(""),
    /** The client's key; unique per user, so a retried PlaceOrder finds its order. */
    idempotencyKey: text("idempotency_key").notNull(),
    /** Hash of the normalised request, to tell a retry from a reused key. */
    requestFingerprint: text("request_fingerprint").notNull(),
    /** Incremented by every change (timeline notes included); watchers compare it. */
    version: integer("version").notNull().default(1),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /** When the current waiting state times out; null in a terminal state. */
    deadlineAt: timestamp("deadline_at", { withTimezone: true }),
  },
  (t) => [
    unique("orders_user_idempotency_key_unique").on(t.userId, t.idempotencyKey),
    // ListOrders: a user's orders, newest first, keyset on id.
    index("orders_user_id_idx").on(t.userId, t.id),
    // The timeout sweeper's work queue: only orders that are waiting.
    index("orders_deadline_idx")
      .on(t.deadlineAt)
      .where(sql`${t.deadlineAt} is not null`),
  ],
);

export const orderLines = pgTable(
  "order_lines",
  {
    orderId: uuid("order_id")
      .notNull()
      .references(() => orders.id),
    /** Position in the order as the customer listed it, from 0. */
    lineNo: integer("line_no").notNull(),
    productId: uuid("product_id").notNull(),
    /** Name and unit price as the catalog had them when the order was placed. */
    productName: text("product_name").notNull(),
    quantity: integer("quantity").notNull(),
    unitPriceMinor: bigint("unit_price_minor", { mode: "bigint" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.orderId, t.lineNo] })],
);

export const orderTimeline = pgTable(
  "order_timeline",
  {
    /** Insertion order; changes to one order are serialised by its row lock, so this is their order. */
    id: bigint("id", { mode: "number" }).generatedAlwaysAsIdentity().primaryKey(),
    orderId: uuid("order_id")
      .notNull()
      .references(() => orders.id),
    // clock_timestamp(), not now(): a transaction that waited for the order's
    // lock records when it actually made its change, so entries stay in time order.
    occurredAt: timestamp("occurred_at", { withTimezone: true })
      .notNull()
      .default(sql`clock_timestamp()`),
    /** The order's status after this entry. */
    status: orderStatus("status").notNull(),
    description: text("description").notNull(),
  },
  (t) => [index("order_timeline_order_idx").on(t.orderId, t.id)],
);

export type OrderRow = typeof orders.$inferSelect;
export type OrderLineRow = typeof orderLines.$inferSelect;
export type OrderTimelineRow = typeof orderTimeline.$inferSelect;
