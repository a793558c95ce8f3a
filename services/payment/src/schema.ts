// The payment service's tables: payments (one row per order), the single-use
// card tokens, and the simulated card processor's own ledger.
import { sql } from "drizzle-orm";
import { bigint, check, index, integer, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * Where a payment row is. CANCELLED_BEFORE_CHARGE is a tombstone, never shown
 * through the API: the order was cancelled before its StockReserved arrived,
 * and the row's unique order_id makes a late StockReserved charge nothing.
 */
export const PAYMENT_STATUSES = ["PENDING", "CAPTURED", "FAILED", "REFUNDED", "CANCELLED_BEFORE_CHARGE"] as const;
export type PaymentStatusName = (typeof PAYMENT_STATUSES)[number];

export const FAILURE_REASONS = [
  "CARD_DECLINED",
  "INSUFFICIENT_FUNDS",
  "PROCESSOR_UNAVAILABLE",
  "INVALID_CARD_TOKEN",
] as const;
export type FailureReasonName = (typeof FAILURE_REASONS)[number];

const quoted = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(", "));

export const payments = pgTable(
  "payments",
  {
    id: uuid("id").primaryKey(),
    /** At most one payment per order: the unique key every saga step serialises on. */
    orderId: uuid("order_id").notNull().unique(),
    userId: uuid("user_id").notNull(),
    status: text("status").$type<PaymentStatusName>().notNull(),
    /** Null only on tombstones (OrderCancelled carries no amount). */
    amountMinor: bigint("amount_minor", { mode: "bigint" }),
    currencyCode: text("currency_code"),
    cardBrand: text("card_brand").notNull().default(""),
    cardLast4: text("card_last4").notNull().default(""),
    failureReason: text("failure_reason").$type<FailureReasonName>(),
    /** Processor calls made for this order, retries included. */
    attempts: integer("attempts").notNull().default(0),
    /** The processor's charge, once approved; what a refund refers to. */
    processorChargeId: uuid("processor_charge_id"),
    /** OrderCancelled arrived while the charge was in flight: refund once captured. */
    cancelRequestedAt: timestamp("cancel_requested_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    capturedAt: timestamp("captured_at", { withTimezone: true }),
    failedAt: timestamp("failed_at", { withTimezone: true }),
    refundedAt: timestamp("refunded_at", { withTimezone: true }),
  },
  (t) => [
    check("payments_status_check", sql`${t.status} in (${quoted(PAYMENT_STATUSES)})`),
    check(
      "payments_failure_reason_check",
      sql`${t.failureReason} is null or ${t.failureReason} in (${quoted(FAILURE_REASONS)})`,
    ),
    // The recovery sweep looks for payments stuck in PENDING.
    index("payments_pending_idx")
      .on(t.updatedAt)
      .where(sql`${t.status} = 'PENDING'`),
  ],
);

export type PaymentRow = typeof payments.$inferSelect;

/**
 * Single-use card tokens. `card_number` is the full PAN, kept only because
 * this simulation has no external vault (a real deployment would hand the
 * number to the processor's vault and store just its reference), and only
 * until the token's charge reaches its final state or the token expires: it
 * is then erased (NULL). The CVC is never stored. The PAN lives only in this
 * database and is never logged or returned.
 */
export const cardTokens = pgTable("card_tokens", {
  token: text("token").primaryKey(),
  userId: uuid("user_id").notNull(),
  brand: text("brand").notNull(),
  last4: text("last4").notNull(),
  /** Erased (NULL) once the token is used or has expired. */
  cardNumber: text("card_number"),
  expMonth: integer("exp_month").notNull(),
  expYear: integer("exp_year").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  /** The order that claimed the token (unique: a token pays for one order, an order uses one token). */
  orderId: uuid("order_id").unique(),
  /** When the charge made with it reached its final state. */
  usedAt: timestamp("used_at", { withTimezone: true }),
});

export type CardTokenRow = typeof cardTokens.$inferSelect;

/**
 * The simulated processor's ledger, keyed by the caller's idempotency key (the
 * order id): a repeated charge with the same key returns the recorded outcome
 * instead of charging again, as a real processor's idempotency keys do. Only
 * the processor (card-processor.ts) reads or writes it.
 */
export const processorCharges = pgTable("processor_charges", {
  idempotencyKey: text("idempotency_key").primaryKey(),
  chargeId: uuid("charge_id").notNull().unique(),
  amountMinor: bigint("amount_minor", { mode: "bigint" }).notNull(),
  currencyCode: text("currency_code").notNull(),
  cardLast4: text("card_last4").notNull(),
  /** Calls made with this key that reached the processor's decision logic. */
  attempts: integer("attempts").notNull().default(0),
  /** APPROVED, DECLINED or INSUFFICIENT_FUNDS once decided; null while only outages happened. */
  outcome: text("outcome"),
  decidedAt: timestamp("decided_at", { withTimezone: true }),
  refundId: uuid("refund_id"),
  refundedAt: timestamp("refunded_at", { withTimezone: true }),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});
