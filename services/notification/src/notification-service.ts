// NotificationService handlers. Both RPCs act for the caller only: the user
// comes from the verified access token, never from the request.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  NotificationKind,
  NotificationSchema,
  NotificationService,
  type Notification,
} from "@shop/gen/shop/notification/v1/notification_pb";
import { requirePrincipal } from "@shop/runtime/authorization";
import type { Database } from "@shop/runtime/db/database";
import { decodePageToken, encodePageToken, pageSizeOf } from "@shop/runtime/page-token";
import { drainSignalKey } from "@shop/runtime/server";
import { withHeartbeats } from "@shop/runtime/stream-heartbeats";
import { and, desc, eq, lt } from "drizzle-orm";
import type { NotificationFeed } from "./notification-feed.ts";
import * as schema from "./schema.ts";
import { notifications, type NotificationKindName, type NotificationRow } from "./schema.ts";

const KINDS: Record<NotificationKindName, NotificationKind> = {
  WELCOME: NotificationKind.WELCOME,
  ORDER_CONFIRMED: NotificationKind.ORDER_CONFIRMED,
  ORDER_CANCELLED: NotificationKind.ORDER_CANCELLED,
  PAYMENT_FAILED: NotificationKind.PAYMENT_FAILED,
};

export function toNotification(row: NotificationRow): Notification {
  return create(NotificationSchema, {
    id: row.id,
    userId: row.userId,
    // A kind a newer version stored (during a rolling update) reads as UNSPECIFIED.
    kind: (KINDS as Partial<typeof KINDS>)[row.kind] ?? NotificationKind.UNSPECIFIED,
    title: row.title,
    body: row.body,
    orderId: row.orderId ?? "",
    createdAt: timestampFromDate(row.createdAt),
  });
}

/** Page position: the id of the last notification on the previous page. */
const isPosition = (p: unknown): p is string => typeof p === "string" && /^[0-9a-f-]{36}$/.test(p);

export function notificationService(
  db: Database<typeof schema>,
  feed: NotificationFeed,
): ServiceImpl<typeof NotificationService> {
  return {
    async listNotifications({ pageSize, pageToken }, ctx) {
      const { subject: userId } = requirePrincipal(ctx);
      const size = pageSizeOf(pageSize);
      // Bound to the user: a token passed on to someone else is refused.
      const filter = { userId };
      const after = decodePageToken(pageToken, filter, isPosition);
      // Ids are UUIDv7 minted at creation: newest first is id descending.
      const rows = await db
        .select()
        .from(notifications)
        .where(and(eq(notifications.userId, userId), after ? lt(notifications.id, after) : undefined))
        .orderBy(desc(notifications.id))
        .limit(size + 1);
      const page = rows.slice(0, size);
      const last = page.at(-1);
      return {
        notifications: page.map(toNotification),
        nextPageToken: rows.length > size && last ? encodePageToken(last.id, filter) : "",
      };
    },

    watchNotifications(_req, ctx) {
      const { subject: userId } = requirePrincipal(ctx);
      const heartbeat = () => ({ heartbeat: true });
      async function* newNotifications() {
        const draining = ctx.values.get(drainSignalKey);
        // Registered before the first message is sent: nothing created from
        // here on is missed, and the first heartbeat tells the client so.
        const watch = await feed.watch(userId, AbortSignal.any([ctx.signal, draining]));
        try {
          yield heartbeat();
          for await (const row of watch) yield { notification: toNotification(row) };
        } finally {
          watch.close();
        }
        // Not a normal end: the client should watch again (another replica).
        if (!ctx.signal.aborted) {
          throw new ConnectError("the server is shutting down; watch again", Code.Unavailable);
        }
      }
      return withHeartbeats(ctx, newNotifications(), heartbeat);
    },
  };
}
