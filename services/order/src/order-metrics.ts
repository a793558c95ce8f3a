// The order domain's metrics, derived from the events order publishes:
//
//   shop_orders_completed_total{outcome="confirmed"}
//   shop_orders_completed_total{outcome="cancelled",reason="out_of_stock"|"payment_failed"|"customer_requested"|"timed_out"}
//   shop_order_saga_duration_seconds{outcome}   placed → confirmed/cancelled
//
// Counted when the relay has published OrderConfirmed/OrderCancelled, i.e.
// after the transition's transaction committed (never for a rolled-back
// attempt), and once per order whichever replica applied the transition.
// The placement time comes from the order id: a UUIDv7 minted when the order
// was placed (schema.ts), whose first 48 bits are that moment in Unix ms.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { OrderCancelledSchema, OrderConfirmedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { CancellationReason } from "@shop/gen/shop/order/v1/order_pb";
import type { ServiceTelemetry } from "@shop/runtime/telemetry/service-telemetry";

/** Seconds: a saga normally takes well under a second; timeouts take minutes. */
const SAGA_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

export function recordOrderOutcomes(telemetry: ServiceTelemetry): void {
  const completed = telemetry.meter.createCounter("shop.orders.completed", {
    description: "Orders that reached a terminal state, by outcome (and cancellation reason)",
  });
  const sagaDuration = telemetry.meter.createHistogram("shop.order.saga.duration.seconds", {
    description: "Time from placing an order to its confirmation or cancellation",
    unit: "s",
    advice: { explicitBucketBoundaries: SAGA_DURATION_BUCKETS },
  });
  const observe = (orderId: string, at: Timestamp | undefined, attributes: { outcome: string; reason?: string }) => {
    completed.add(1, attributes);
    const placedMs = placedAtMs(orderId);
    if (placedMs !== undefined && at) {
      sagaDuration.record(Math.max(0, (timestampDate(at).getTime() - placedMs) / 1000), {
        outcome: attributes.outcome,
      });
    }
  };
  telemetry.onEventPublished(OrderConfirmedSchema, (e) => observe(e.orderId, e.confirmedAt, { outcome: "confirmed" }));
  telemetry.onEventPublished(OrderCancelledSchema, (e) =>
    observe(e.orderId, e.cancelledAt, {
      outcome: "cancelled",
      // An open enum: a reason this build does not know has no name.
      reason: ((CancellationReason[e.reason] as string | undefined) ?? "UNSPECIFIED").toLowerCase(),
    }),
  );
}

/** The Unix-ms timestamp in a UUIDv7, or undefined for anything else. */
function placedAtMs(orderId: string): number | undefined {
  const hex = orderId.replaceAll("-", "");
  if (!/^[0-9a-f]{32}$/i.test(hex) || hex[12] !== "7") return undefined;
  return parseInt(hex.slice(0, 12), 16);
}
