// One step of the saga for one order, inside the caller's transaction: lock
// the order row, decide with the pure state machine, apply the decision.
// Every path that changes an order (events, CancelOrder, the timeout sweeper)
// goes through here, so concurrent steps for one order are serialised by the
// row lock and each sees the status the previous one committed.
import { eq, sql } from "drizzle-orm";
import type { DbOrTx } from "@shop/runtime/events/outbox";
import { applyTransition, type TransitionDeps } from "./apply-transition.ts";
import { decide, type SagaInput, type Transition } from "./saga.ts";
import { orderLines, orders, type OrderLineRow, type OrderRow } from "./schema.ts";
import { statusFromName } from "./status-mapping.ts";

/** What the state machine needs of an order's lines. */
export type SagaLine = Pick<OrderLineRow, "productId" | "productName" | "quantity">;

/** An order row as locked by lockOrder, with the lines the state machine needs. */
export type LockedOrder = OrderRow & { sagaLines: SagaLine[] };

/**
 * The order row, locked until the transaction ends, with its lines (one
 * statement: the lines come as a JSON subquery); undefined if there is none.
 */
export async function lockOrder(tx: DbOrTx, orderId: string): Promise<LockedOrder | undefined> {
  const found = (
    await tx
      .select({
        row: orders,
        lines: sql<unknown>`(select coalesce(json_agg(json_build_object(
          'productId', l.product_id, 'productName', l.product_name, 'quantity', l.quantity)), '[]')
          from ${orderLines} l where l.order_id = ${orders}.id)`,
      })
      .from(orders)
      .where(eq(orders.id, orderId))
      .for("update", { of: orders })
  ).at(0);
  if (!found) return undefined;
  const lines = (typeof found.lines === "string" ? JSON.parse(found.lines) : found.lines) as SagaLine[];
  return { ...found.row, sagaLines: lines };
}

/** Decides and applies `input` for an order the caller has locked (its lines read now unless lockOrder gave them). */
export async function sagaStep(
  tx: DbOrTx,
  deps: TransitionDeps,
  order: OrderRow | LockedOrder,
  input: SagaInput,
): Promise<{ transition: Transition; order: OrderRow }> {
  const lines =
    "sagaLines" in order
      ? order.sagaLines
      : await tx
          .select({
            productId: orderLines.productId,
            productName: orderLines.productName,
            quantity: orderLines.quantity,
          })
          .from(orderLines)
          .where(eq(orderLines.orderId, order.id));
  const transition = decide({ status: statusFromName(order.status), lines }, input);
  return { transition, order: await applyTransition(tx, deps, order, transition) };
}
