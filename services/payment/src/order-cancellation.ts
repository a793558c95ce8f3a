// What an OrderCancelled does to the order's payment, in the inbox
// transaction:
//
//   no payment yet  → a CANCELLED_BEFORE_CHARGE tombstone; its unique order_id
//                     makes a StockReserved that arrives later charge nothing
//   PENDING         → cancel_requested_at; the charger refunds right after it
//                     captures (see order-charger.ts)
//   CAPTURED        → refunded through the processor, PaymentRefunded
//   FAILED, REFUNDED, tombstone → nothing (a repeated OrderCancelled included)
//
// Every branch locks or inserts the one row keyed by order_id, so it
// serialises with the charger's open and finish steps whatever the order of
// arrival.
import { eq } from "drizzle-orm";
import type { OrderCancelled } from "@shop/gen/shop/order/v1/events_pb";
import type { DbOrTx } from "@shop/runtime/events/outbox";
import type { Logger } from "@shop/runtime/log";
import { v7 as uuidv7 } from "uuid";
import type { PaymentTransitions } from "./payment-transitions.ts";
import { payments } from "./schema.ts";

export class OrderCancellation {
  constructor(
    private readonly transitions: PaymentTransitions,
    private readonly logger: Logger,
  ) {}

  async onOrderCancelled(tx: DbOrTx, event: OrderCancelled): Promise<void> {
    const now = new Date();
    const tombstone = await tx
      .insert(payments)
      .values({
        id: uuidv7(),
        orderId: event.orderId,
        userId: event.userId,
        status: "CANCELLED_BEFORE_CHARGE",
        cancelRequestedAt: now,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing({ target: payments.orderId })
      .returning({ id: payments.id });
    if (tombstone.length > 0) return;

    const [payment] = await tx.select().from(payments).where(eq(payments.orderId, event.orderId)).for("update");
    switch (payment.status) {
      case "PENDING":
        if (!payment.cancelRequestedAt) {
          await tx.update(payments).set({ cancelRequestedAt: now, updatedAt: now }).where(eq(payments.id, payment.id));
        }
        return;
      case "CAPTURED": {
        await this.transitions.refund(tx, payment);
        this.logger.info({ paymentId: payment.id, orderId: payment.orderId }, "payment refunded after cancellation");
        return;
      }
      default:
        return;
    }
  }
}
