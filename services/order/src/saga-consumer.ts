// The saga's event consumer: inventory's and payment's events, each applied
// to its order under the order's row lock inside the inbox transaction (so a
// redelivered event is skipped by the inbox, and one that arrives with a new
// id, late or out of order is judged by the state machine).
import type { MessageShape } from "@bufbuild/protobuf";
import { subscription } from "@shop/runtime/events/consumer";
import type { TransitionDeps } from "./apply-transition.ts";
import type { SagaInput } from "./saga.ts";
import { lockOrder, sagaStep } from "./saga-step.ts";
import { manifest } from "./manifest.ts";
import type * as schema from "./schema.ts";

// The saga consumes exactly what the manifest says order consumes.
const sagaEvents = manifest.consumes;

type SagaEvent = MessageShape<(typeof sagaEvents)[number]>;

export function toSagaInput(event: SagaEvent): SagaInput {
  switch (event.$typeName) {
    case "shop.inventory.v1.StockReserved":
      return { type: "StockReserved" };
    case "shop.inventory.v1.StockRejected":
      return {
        type: "StockRejected",
        reason: event.reason,
        unavailable: event.unavailable.map((l) => ({ productId: l.productId, available: l.quantity })),
      };
    case "shop.inventory.v1.StockReleased":
      return { type: "StockReleased" };
    case "shop.inventory.v1.StockCommitted":
      return { type: "StockCommitted" };
    case "shop.payment.v1.PaymentCaptured":
      return { type: "PaymentCaptured" };
    case "shop.payment.v1.PaymentFailed":
      return { type: "PaymentFailed", reason: event.reason };
    case "shop.payment.v1.PaymentRefunded":
      return { type: "PaymentRefunded" };
  }
}

export function sagaSubscription(deps: TransitionDeps) {
  return subscription<typeof schema, typeof sagaEvents>({
    durable: "order",
    events: sagaEvents,
    async handle(tx, event) {
      const order = await lockOrder(tx, event.orderId);
      // Order writes the order and its OrderPlaced in one transaction, so every
      // genuine event names an order that exists: anything else is retried
      // and then parked as a dead letter for someone to look at.
      if (!order) throw new Error(`${event.$typeName} for unknown order ${JSON.stringify(event.orderId)}`);
      await sagaStep(tx, deps, order, toSagaInput(event));
    },
  });
}
