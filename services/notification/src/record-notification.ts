// Stores a notification at most once per user-facing event and announces it
// to the watchers of every replica. The NOTIFY is issued in the caller's
// transaction, so Postgres delivers it on commit and drops it on rollback:
// watchers never hear of a notification that does not exist.
import { sql } from "drizzle-orm";
import type { DbOrTx } from "@shop/runtime/events/outbox";
import { v7 as uuidv7 } from "uuid";
import type { NotificationContent } from "./notification-content.ts";
import { notifications, type NotificationRow } from "./schema.ts";

/** LISTEN/NOTIFY channel; the payload is a JSON NotificationCreatedSignal. */
export const NOTIFICATION_CHANNEL = "notification_created";

export interface NotificationCreatedSignal {
  userId: string;
  id: string;
}

/** The new row, or undefined when this event already has its notification. */
export async function recordNotification(
  tx: DbOrTx,
  content: NotificationContent,
  sourceEventId: string,
): Promise<NotificationRow | undefined> {
  const now = Date.now();
  const row = (
    await tx
      .insert(notifications)
      .values({ ...content, id: uuidv7({ msecs: now }), sourceEventId, createdAt: new Date(now) })
      .onConflictDoNothing({ target: notifications.dedupeKey })
      .returning()
  ).at(0);
  if (!row) return undefined;
  const signal: NotificationCreatedSignal = { userId: row.userId, id: row.id };
  await tx.execute(sql`select pg_notify(${NOTIFICATION_CHANNEL}, ${JSON.stringify(signal)})`);
  return row;
}
