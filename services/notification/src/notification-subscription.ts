// The events that become notifications. Runs inside the inbox transaction:
// the inbox drops a redelivered message (same event id), the dedupe key drops
// the same event arriving under another id, and the NOTIFY for watchers is
// sent only if the transaction commits.
import { UserRegisteredSchema } from "@shop/gen/shop/identity/v1/events_pb";
import { OrderCancelledSchema, OrderConfirmedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentFailedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { subscription } from "@shop/runtime/events/consumer";
import type { Transaction } from "@shop/runtime/db/database";
import type { Logger } from "@shop/runtime/log";
import { notificationContent } from "./notification-content.ts";
import { recordNotification } from "./record-notification.ts";
import type * as schema from "./schema.ts";

export function notificationSubscription(logger: Logger) {
  return subscription({
    durable: "notification",
    events: [UserRegisteredSchema, OrderConfirmedSchema, OrderCancelledSchema, PaymentFailedSchema],
    async handle(tx: Transaction<typeof schema>, event, meta) {
      const content = notificationContent(event);
      const recorded = await recordNotification(tx, content, meta.eventId);
      if (!recorded)
        logger.info({ dedupeKey: content.dedupeKey, eventId: meta.eventId }, "event already notified; skipped");
    },
  });
}
