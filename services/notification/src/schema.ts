// The notification service's one table. `dedupe_key` names the user-facing
// event a notification is about ("welcome:<user>", "order-confirmed:<order>"
// ...); its unique index is what makes "exactly one notification per event"
// hold even when the same event arrives twice under different event ids
// (a republished or replayed event), which the inbox alone cannot catch.
import { check, index, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";

export const NOTIFICATION_KINDS = ["WELCOME", "ORDER_CONFIRMED", "ORDER_CANCELLED", "PAYMENT_FAILED"] as const;
export type NotificationKindName = (typeof NOTIFICATION_KINDS)[number];

export const notifications = pgTable(
  "notifications",
  {
    /** UUIDv7 minted with created_at's millisecond, so ordering by id is ordering by time. */
    id: uuid("id").primaryKey(),
    /** The recipient (a JWT subject; text so any subject simply finds nothing). */
    userId: text("user_id").notNull(),
    kind: text("kind").$type<NotificationKindName>().notNull(),
    title: text("title").notNull(),
    body: text("body").notNull(),
    /** Null for account notifications (welcome). */
    orderId: uuid("order_id"),
    /** The event that caused it (its Shop-Event-Id), for tracing back. */
    sourceEventId: text("source_event_id").notNull(),
    dedupeKey: text("dedupe_key").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
  },
  (t) => [
    uniqueIndex("notifications_dedupe_key_idx").on(t.dedupeKey),
    // ListNotifications and the watchers' catch-up: one user's, newest first.
    index("notifications_user_id_idx").on(t.userId, t.id.desc()),
    check(
      "notifications_kind_check",
      sql`${t.kind} in (${sql.raw(NOTIFICATION_KINDS.map((k) => `'${k}'`).join(", "))})`,
    ),
  ],
);

export type NotificationRow = typeof notifications.$inferSelect;
