// The inventory's tables. Stock is never negative: the reservation logic locks
// rows before changing them, and CHECK constraints are the last line of
// defence. A reservation row per order (keyed by order id) makes every order
// event idempotent beyond the inbox, including events that arrive out of order.
import { sql } from "drizzle-orm";
import { bigint, check, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const stock = pgTable(
  "stock",
  {
    productId: uuid("product_id").primaryKey(),
    // sql`0` rather than 0n: drizzle-kit cannot serialise BigInt defaults.
    /** Units that can still be ordered. */
    available: bigint("available", { mode: "bigint" })
      .notNull()
      .default(sql`0`),
    /** Units held for orders not yet confirmed or cancelled. */
    reserved: bigint("reserved", { mode: "bigint" })
      .notNull()
      .default(sql`0`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check("stock_available_non_negative", sql`${t.available} >= 0`),
    check("stock_reserved_non_negative", sql`${t.reserved} >= 0`),
  ],
);

export type StockRow = typeof stock.$inferSelect;

export const reservationStatuses = [
  /** Every line is held for the order. */
  "RESERVED",
  /** The order was confirmed: the held units left stock for good. */
  "COMMITTED",
  /** The held units went back to stock (payment failed, order cancelled). */
  "RELEASED",
  /** Not every line could be held; nothing was. */
  "REJECTED",
  /**
   * Tombstone: the order was cancelled (or its payment failed) before its
   * OrderPlaced arrived here, so a late OrderPlaced must reserve nothing.
   */
  "CANCELLED_BEFORE_RESERVE",
] as const;

export type ReservationStatus = (typeof reservationStatuses)[number];

/** One product's units in a reservation (quantities are order-line sized, well within a JS number). */
export interface ReservedLine {
  productId: string;
  quantity: number;
}

export const reservations = pgTable(
  "reservations",
  {
    orderId: uuid("order_id").primaryKey(),
    /** The order's customer; empty for a tombstone written before the order was seen. */
    userId: text("user_id").notNull().default(""),
    status: text("status").$type<ReservationStatus>().notNull(),
    /** What is (or was, or would have been) held, one entry per product. */
    lines: jsonb("lines").$type<ReservedLine[]>().notNull().default([]),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  () => [
    check("reservations_status_known", sql.raw(`"status" in (${reservationStatuses.map((s) => `'${s}'`).join(", ")})`)),
  ],
);

export type ReservationRow = typeof reservations.$inferSelect;

/** Applied restocks, so that repeating a Restock call adds nothing. */
export const restocks = pgTable("restocks", {
  restockId: uuid("restock_id").primaryKey(),
  productId: uuid("product_id").notNull(),
  quantity: bigint("quantity", { mode: "bigint" }).notNull(),
  /** The admin who restocked. */
  restockedBy: text("restocked_by").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export type RestockRow = typeof restocks.$inferSelect;
