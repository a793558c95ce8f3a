// The moves a payment makes once its charge has an outcome, each with the
// event it publishes, written in the caller's transaction on a row the caller
// has locked (SELECT ... FOR UPDATE) and checked to be in the right state.
// Being the only writers of final states, these are where "captured once,
// refunded once" is decided.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { eq } from "drizzle-orm";
import { PaymentFailedSchema, PaymentCapturedSchema, PaymentRefundedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { PaymentFailureReason } from "@shop/gen/shop/payment/v1/payment_pb";
import type { DbOrTx, Outbox } from "@shop/runtime/events/outbox";
import type { CardProcessor } from "./card-processor.ts";
import { markCardTokenUsed } from "./card-tokens.ts";
import { payments, type FailureReasonName, type PaymentRow } from "./schema.ts";
import type { PublishedBy } from "@shop/runtime/manifest";
import type { manifest } from "./manifest.ts";

export class PaymentTransitions {
  constructor(
    private readonly outbox: Outbox<PublishedBy<typeof manifest>>,
    private readonly processor: CardProcessor,
  ) {}

  /**
   * PENDING → CAPTURED, and straight on to REFUNDED if the order was
   * cancelled while the charge was in flight.
   */
  async capture(tx: DbOrTx, locked: PaymentRow, charge: { chargeId: string; attempts: number }): Promise<PaymentRow> {
    assertStatus(locked, "PENDING");
    const now = new Date();
    const captured = await this.recordOutcome(
      tx,
      locked,
      now,
      { status: "CAPTURED", processorChargeId: charge.chargeId, attempts: charge.attempts, capturedAt: now },
      () =>
        this.outbox.enqueue(tx, PaymentCapturedSchema, {
          paymentId: locked.id,
          orderId: locked.orderId,
          amount: moneyOf(locked),
          capturedAt: timestampFromDate(now),
        }),
    );
    return captured.cancelRequestedAt ? this.refund(tx, captured) : captured;
  }

  /** PENDING → FAILED. */
  async fail(tx: DbOrTx, locked: PaymentRow, reason: FailureReasonName, attempts: number): Promise<PaymentRow> {
    assertStatus(locked, "PENDING");
    const now = new Date();
    return this.recordOutcome(
      tx,
      locked,
      now,
      { status: "FAILED", failureReason: reason, attempts, failedAt: now },
      () =>
        this.outbox.enqueue(tx, PaymentFailedSchema, {
          paymentId: locked.id,
          orderId: locked.orderId,
          userId: locked.userId,
          reason: PaymentFailureReason[reason],
          failedAt: timestampFromDate(now),
        }),
    );
  }

  /**
   * The processor's answer for a PENDING payment: its final state (attempts
   * never below those already recorded), the card token spent (one that
   * reached the processor is spent, whatever the answer) and the event. The
   * row is locked and the event needs nothing the update returns, so the
   * three statements go out together (pipelined, one round trip).
   */
  private async recordOutcome(
    tx: DbOrTx,
    locked: PaymentRow,
    now: Date,
    outcome: Partial<PaymentRow> & { attempts: number },
    enqueueEvent: () => Promise<unknown>,
  ): Promise<PaymentRow> {
    const [[recorded]] = await Promise.all([
      tx
        .update(payments)
        .set({ ...outcome, attempts: Math.max(locked.attempts, outcome.attempts), updatedAt: now })
        .where(eq(payments.id, locked.id))
        .returning(),
      markCardTokenUsed(tx, locked.orderId, now),
      enqueueEvent(),
    ]);
    return recorded;
  }

  /**
   * CAPTURED → REFUNDED. The processor's refund is idempotent per charge, so
   * if this transaction rolls back after it, doing it again refunds nothing
   * more.
   */
  async refund(tx: DbOrTx, locked: PaymentRow): Promise<PaymentRow> {
    assertStatus(locked, "CAPTURED");
    // capture() records the charge id with the CAPTURED status.
    if (locked.processorChargeId === null) throw new Error(`captured payment ${locked.id} has no processor charge`);
    const { refundedAt } = await this.processor.refund(locked.processorChargeId);
    const [refunded] = await tx
      .update(payments)
      .set({ status: "REFUNDED", refundedAt, updatedAt: new Date() })
      .where(eq(payments.id, locked.id))
      .returning();
    await this.outbox.enqueue(tx, PaymentRefundedSchema, {
      paymentId: refunded.id,
      orderId: refunded.orderId,
      amount: moneyOf(refunded),
      refundedAt: timestampFromDate(refundedAt),
    });
    return refunded;
  }
}

function assertStatus(row: PaymentRow, expected: PaymentRow["status"]): void {
  if (row.status !== expected) throw new Error(`payment ${row.id} is ${row.status}, expected ${expected}`);
}

export function moneyOf(row: PaymentRow): { currencyCode: string; amountMinor: bigint } {
  return { currencyCode: row.currencyCode ?? "", amountMinor: row.amountMinor ?? 0n };
}
