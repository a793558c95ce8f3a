// Inventory's side of the shared test event traffic (tests/support/events.ts):
// the events it consumes and the ones it publishes.
import {
  StockCommittedSchema,
  StockRejectedSchema,
  StockReleasedSchema,
  StockReservedSchema,
} from "@shop/gen/shop/inventory/v1/events_pb";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentFailedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import type { EventBus } from "@shop/runtime/events/bus";
import { consumersCaughtUp, EventLog } from "../../../tests/support/events.ts";

export { publishEvent } from "../../../tests/support/events.ts";

const published = [StockReservedSchema, StockRejectedSchema, StockReleasedSchema, StockCommittedSchema] as const;
export type InventoryEventLog = EventLog<typeof published>;
export const InventoryEventLog = { open: (bus: EventBus) => EventLog.open(bus, published) };

export const inventoryCaughtUp = (bus: EventBus) =>
  consumersCaughtUp(bus, "inventory", [
    OrderPlacedSchema,
    PaymentFailedSchema,
    OrderCancelledSchema,
    OrderConfirmedSchema,
  ]);
