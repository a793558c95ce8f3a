// Order's side of the shared test event traffic (tests/support/events.ts):
// the events it consumes and the ones it publishes.
import {
  StockCommittedSchema,
  StockRejectedSchema,
  StockReleasedSchema,
  StockReservedSchema,
} from "@shop/gen/shop/inventory/v1/events_pb";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentCapturedSchema, PaymentFailedSchema, PaymentRefundedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import type { EventBus } from "@shop/runtime/events/bus";
import { consumersCaughtUp, EventLog } from "../../../tests/support/events.ts";

export { publishEvent } from "../../../tests/support/events.ts";

const published = [OrderPlacedSchema, OrderConfirmedSchema, OrderCancelledSchema] as const;
export type OrderEventLog = EventLog<typeof published>;
export const OrderEventLog = { open: (bus: EventBus) => EventLog.open(bus, published) };

export const orderCaughtUp = (bus: EventBus) =>
  consumersCaughtUp(bus, "order", [
    StockReservedSchema,
    StockRejectedSchema,
    StockReleasedSchema,
    StockCommittedSchema,
    PaymentCapturedSchema,
    PaymentFailedSchema,
    PaymentRefundedSchema,
  ]);
