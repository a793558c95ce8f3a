// Order's side of the shared test event traffic (tests/support/events.ts):
// the events it consumes and the ones it publishes.
import type { EventBus } from "@shop/runtime/events/bus";
import { consumersCaughtUp, EventLog } from "../../../tests/support/events.ts";
import { manifest } from "../src/manifest.ts";

export { publishEvent } from "../../../tests/support/events.ts";

// Both lists are the manifest's: the one place order's events are written.
const published = manifest.publishes;
export type OrderEventLog = EventLog<typeof published>;
export const OrderEventLog = { open: (bus: EventBus) => EventLog.open(bus, published) };

export const orderCaughtUp = (bus: EventBus) => consumersCaughtUp(bus, "order", manifest.consumes);
