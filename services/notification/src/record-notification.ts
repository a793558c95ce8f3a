// Stores a notification at most once per user-facing event and announces it
// to the watchers of every replica. The NOTIFY is issued in the caller's
// transaction, so Postgres delivers it on commit and drops it on rollback:
// watchers never hear of a notification that does not exist.
import { sql } from "drizzle-orm";
import type { Transaction } from "@shop/runtime/db/database";
import { v7 as uuidv7 } from "uuid";
import type { NotificationContent } from "./notification-content.ts";
import { notifications } from "./schema.ts";

/** LISTEN/NOTIFY channel; the payload is a JSON NotificationCreatedSignal. */
export const NOTIFICATION_CHANNEL = "notification_created";

export interface NotificationCreatedSignal {
  userId: string;
  id: string;
}

/**
 * True when the notification was stored (and announced), false when this
 * event already has its notification. Insert and NOTIFY are one statement.
 */
export async function recordNotification(
  tx: Transaction,
  content: NotificationContent,
  sourceEventId: string,
): Promise<boolean> {
  const now = Date.now();
  const id = uuidv7({ msecs: now });
  const signal: NotificationCreatedSignal = { userId: content.userId, id };
  const insert = tx
    .insert(notifications)
    .values({ ...content, id, sourceEventId, createdAt: new Date(now) })
    .onConflictDoNothing({ target: notifications.dedupeKey })
    .returning({ id: notifications.id });
  const announced = await tx.execute(
    sql`with inserted as ${insert} select pg_notify(${NOTIFICATION_CHANNEL}, ${JSON.stringify(signal)}) from inserted`,
  );
  return announced.length > 0;
}
