// The order service's tables: orders, their lines, and each order's timeline.
// Money is integer minor units plus the order's currency (every line of an
// order is priced in the same currency). `deadline_at` is when the order's
// current waiting state times out (null once terminal); the timeout sweeper
// reads it through a partial index. The shipping address is a snapshot taken
// when the order is placed (never updated, never queried by its parts), so
// it is one jsonb value shaped like the contract's ShippingAddress.
import { sql } from "drizzle-orm";
import {
  bigint,
  index,
  integer,
  jsonb,
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

/** shop.payment.v1.PaymentFailureReason by name, without the prefix. */
export const PAYMENT_FAILURE_REASONS = [
  "CARD_DECLINED",
  "INSUFFICIENT_FUNDS",
  "PROCESSOR_UNAVAILABLE",
  "INVALID_CARD_TOKEN",
] as const;
export type PaymentFailureReasonName = (typeof PAYMENT_FAILURE_REASONS)[number];

/** shop.order.v1.TimelineEventKind by name, without the prefix. */
export const TIMELINE_EVENT_KINDS = [
  "PLACED",
  "STOCK_RESERVED",
  "STOCK_REJECTED",
  "PAYMENT_CAPTURED",
  "PAYMENT_FAILED",
  "CANCELLED_BY_CUSTOMER",
  "CANCELLED_BY_ADMIN",
  "STOCK_TIMED_OUT",
  "PAYMENT_TIMED_OUT",
  "STOCK_RELEASED",
  "STOCK_COMMITTED",
  "PAYMENT_REFUNDED",
  "LATE_EVENT_IGNORED",
] as const;
export type TimelineEventKindName = (typeof TIMELINE_EVENT_KINDS)[number];

export const orderStatus = pgEnum("order_status", ORDER_STATUSES);
export const cancellationReason = pgEnum("cancellation_reason", CANCELLATION_REASONS);
export const paymentFailureReason = pgEnum("payment_failure_reason", PAYMENT_FAILURE_REASONS);
export const timelineEventKind = pgEnum("timeline_event_kind", TIMELINE_EVENT_KINDS);

/** The shipping_address column: shop.order.v1.ShippingAddress's fields. */
export interface ShippingAddressValue {
  name: string;
  line1: string;
  line2: string;
  city: string;
  postalCode: string;
  region: string;
  countryCode: string;
}

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
    /** Set with cancellation_reason PAYMENT_FAILED. */
    paymentFailureReason: paymentFailureReason("payment_failure_reason"),
    /** Null for orders placed without one (API clients; orders from before addresses). */
    shippingAddress: jsonb("shipping_address").$type<ShippingAddressValue>(),
    /** Given at checkout, else the account's email when the order was placed ('' for older orders). */
    contactEmail: text("contact_email").notNull().default(""),
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
    /** The product's picture as the catalog had it. */
    imageUrl: text("image_url").notNull().default(""),
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
    /** What happened, for clients; null for entries recorded before kinds existed. */
    kind: timelineEventKind("kind"),
  },
  (t) => [index("order_timeline_order_idx").on(t.orderId, t.id)],
);

export type OrderRow = typeof orders.$inferSelect;
export type OrderLineRow = typeof orderLines.$inferSelect;
export type OrderTimelineRow = typeof orderTimeline.$inferSelect;
