// One step of the saga for one order, inside the caller's transaction: lock
// the order row, decide with the pure state machine, apply the decision.
// Every path that changes an order (events, CancelOrder, the timeout sweeper)
// goes through here, so concurrent steps for one order are serialised by the
// row lock and each sees the status the previous one committed.
import { eq } from "drizzle-orm";
import type { DbOrTx } from "@shop/runtime/events/outbox";
import { applyTransition, type TransitionDeps } from "./apply-transition.ts";
import { decide, type SagaInput, type Transition } from "./saga.ts";
import { orderLines, orders, type OrderRow } from "./schema.ts";
import { statusFromName } from "./status-mapping.ts";

/** The order row, locked until the transaction ends; undefined if there is none. */
export async function lockOrder(tx: DbOrTx, orderId: string): Promise<OrderRow | undefined> {
  const [row] = await tx.select().from(orders).where(eq(orders.id, orderId)).for("update");
  return row;
}

/** Decides and applies `input` for an order the caller has locked. */
export async function sagaStep(
  tx: DbOrTx,
  deps: TransitionDeps,
  order: OrderRow,
  input: SagaInput,
): Promise<{ transition: Transition; order: OrderRow }> {
  const lines = await tx
    .select({ productId: orderLines.productId, productName: orderLines.productName, quantity: orderLines.quantity })
    .from(orderLines)
    .where(eq(orderLines.orderId, order.id));
  const transition = decide({ status: statusFromName(order.status), lines }, input);
  return { transition, order: await applyTransition(tx, deps, order, transition) };
}
