// Payment's side of the shared test event traffic (tests/support/events.ts):
// the events it consumes and the ones it publishes.
import { StockReservedSchema } from "@shop/gen/shop/inventory/v1/events_pb";
import { OrderCancelledSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentCapturedSchema, PaymentFailedSchema, PaymentRefundedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import type { EventBus } from "@shop/runtime/events/bus";
import { consumersCaughtUp, EventLog } from "../../../tests/support/events.ts";

export { publishEvent } from "../../../tests/support/events.ts";

const published = [PaymentCapturedSchema, PaymentFailedSchema, PaymentRefundedSchema] as const;
export type PaymentEventLog = EventLog<typeof published>;
export const PaymentEventLog = { open: (bus: EventBus) => EventLog.open(bus, published) };

export const paymentCaughtUp = (bus: EventBus) =>
  consumersCaughtUp(bus, "payment", [StockReservedSchema, OrderCancelledSchema]);
