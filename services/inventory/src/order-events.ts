// The saga events inventory follows, on one durable subscription. Each handler
// runs inside the inbox transaction (a redelivered event id is dropped before
// it gets here) and is idempotent by order id besides, because the same order
// can arrive under another event id and events from different streams can
// arrive in any order.
import { OrderCancelledSchema, OrderConfirmedSchema, OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentFailedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { subscription } from "@shop/runtime/events/consumer";
import type { Outbox } from "@shop/runtime/events/outbox";
import type { Logger } from "@shop/runtime/log";
import { commitStock } from "./commit-stock.ts";
import { releaseStock } from "./release-stock.ts";
import type { InventoryTransaction } from "./reservation-lines.ts";
import { reserveStock } from "./reserve-stock.ts";
import type { PublishedBy } from "@shop/runtime/manifest";
import type { manifest } from "./manifest.ts";

export function orderEventsSubscription(outbox: Outbox<PublishedBy<typeof manifest>>, logger: Logger) {
  return subscription({
    durable: "inventory",
    events: [OrderPlacedSchema, PaymentFailedSchema, OrderCancelledSchema, OrderConfirmedSchema],
    async handle(tx: InventoryTransaction, event, meta) {
      const log = logger.child({ eventId: meta.eventId, orderId: event.orderId });
      switch (event.$typeName) {
        case "shop.order.v1.OrderPlaced": {
          const outcome = await reserveStock(tx, outbox, event);
          log.debug({ outcome }, "OrderPlaced handled");
          return;
        }
        case "shop.payment.v1.PaymentFailed":
        case "shop.order.v1.OrderCancelled": {
          const cause = event.$typeName === "shop.payment.v1.PaymentFailed" ? "payment failed" : "order cancelled";
          const outcome = await releaseStock(tx, outbox, log, { orderId: event.orderId, userId: event.userId, cause });
          log.debug({ outcome }, `${event.$typeName} handled`);
          return;
        }
        case "shop.order.v1.OrderConfirmed": {
          const outcome = await commitStock(tx, outbox, log, event.orderId);
          log.debug({ outcome }, "OrderConfirmed handled");
          return;
        }
      }
    },
  });
}
