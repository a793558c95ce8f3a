// Charging an order when its stock is reserved (StockReserved).
//
// Transaction design. The handler runs inside the consumer's inbox
// transaction, but the charge itself happens outside any transaction that
// the cancel path could wait on:
//
//   1. open (own short transaction, committed at once): insert the payment
//      PENDING — unique on order_id, so a tombstone left by an earlier
//      OrderCancelled or a payment from a duplicate event wins and we stop —
//      and bind the card token to the order. Committing here makes the PENDING
//      row visible, so an OrderCancelled arriving during the charge finds it,
//      sets cancel_requested_at and commits without waiting for us.
//   2. charge (no transaction of ours open on the payment): the processor
//      call, retried with backoff on ProcessorUnavailable. It may take seconds.
//      Attempts after an outage are recorded in short autocommit updates
//      (a decision's are recorded with the outcome in step 3).
//   3. finish (in the inbox transaction): lock the payment row, and if it is
//      still PENDING record CAPTURED or FAILED, mark the token used, enqueue
//      the event, and refund at once if cancel_requested_at was set meanwhile.
//      The inbox row commits with the final state, atomically.
//
// Crash or redelivery at any point is safe: a PENDING payment is simply
// charged again with the same idempotency key (the order id), and the
// processor returns its first decision instead of charging twice; a final
// payment makes the event a no-op. Two chargers racing on one order (duplicate
// events on two replicas) get the same decision from the processor and the
// row lock in step 3 lets only the first record it.
import { setTimeout as sleep } from "node:timers/promises";
import { and, eq, sql } from "drizzle-orm";
import type { StockReserved } from "@shop/gen/shop/inventory/v1/events_pb";
import type { Database } from "@shop/runtime/db/database";
import type { DbOrTx } from "@shop/runtime/events/outbox";
import type { Logger } from "@shop/runtime/log";
import { v7 as uuidv7 } from "uuid";
import { ProcessorUnavailable, type CardProcessor } from "./card-processor.ts";
import { claimCardToken, claimedCardToken } from "./card-tokens.ts";
import type { PaymentTransitions } from "./payment-transitions.ts";
import * as schema from "./schema.ts";
import { payments, type CardTokenRow, type FailureReasonName, type PaymentRow } from "./schema.ts";

export interface ChargeRetryPolicy {
  /** Processor calls per order before giving up. */
  maxAttempts: number;
  /** Wait after the first outage; doubles after each further one. */
  firstDelayMs: number;
}

type ChargeOutcome =
  | { kind: "approved"; chargeId: string; attempts: number }
  | { kind: "failed"; reason: FailureReasonName; attempts: number };

export class OrderCharger {
  constructor(
    private readonly db: Database<typeof schema>,
    private readonly processor: CardProcessor,
    private readonly transitions: PaymentTransitions,
    private readonly retry: ChargeRetryPolicy,
    private readonly logger: Logger,
  ) {}

  /** The StockReserved handler; `tx` is the inbox transaction. */
  async onStockReserved(tx: DbOrTx, event: StockReserved): Promise<void> {
    // Not retryable: the message is malformed; it ends up as a dead letter.
    if (!event.amount) throw new Error(`StockReserved for order ${event.orderId} carries no amount`);
    const { payment, card } = await this.open(event);
    if (payment.status !== "PENDING") return; // charged, failed or cancelled already
    await this.complete(tx, payment, card);
  }

  /**
   * Charges a PENDING payment and records the outcome in `tx`. Safe to repeat
   * and to run concurrently with another charger of the same payment.
   * `card` is the token open() just claimed for it, if it did (read again otherwise).
   */
  async complete(tx: DbOrTx, payment: PaymentRow, card?: CardTokenRow): Promise<void> {
    const outcome = await this.charge(payment, card);
    const [locked] = await tx.select().from(payments).where(eq(payments.id, payment.id)).for("update");
    if (locked.status !== "PENDING") return; // another charger recorded it first
    if (outcome.kind === "approved") {
      const final = await this.transitions.capture(tx, locked, outcome);
      this.logger.info({ paymentId: final.id, orderId: final.orderId, status: final.status }, "payment captured");
    } else {
      await this.transitions.fail(tx, locked, outcome.reason, outcome.attempts);
      this.logger.info({ paymentId: locked.id, orderId: locked.orderId, reason: outcome.reason }, "payment failed");
    }
  }

  /** Step 1: the order's payment, created PENDING with its card bound if there was none (and that card). */
  private async open(event: StockReserved): Promise<{ payment: PaymentRow; card?: CardTokenRow }> {
    const amount = event.amount;
    // Inventory always sets it; an event without one can never be charged (retries end in the dead letters).
    if (!amount) throw new Error(`StockReserved for order ${event.orderId} has no amount`);
    const opened = await this.db
      .transaction(async (tx) => {
        const now = new Date();
        // The token first, so that the payment goes in with its card in one
        // insert. If the order has a payment already (a tombstone of an
        // earlier OrderCancelled, or a duplicate event's), the claim is rolled
        // back with the transaction.
        const card = await claimCardToken(tx, {
          token: event.cardToken,
          userId: event.userId,
          orderId: event.orderId,
          now,
        });
        const created = (
          await tx
            .insert(payments)
            .values({
              id: uuidv7(),
              orderId: event.orderId,
              userId: event.userId,
              status: "PENDING",
              amountMinor: amount.amountMinor,
              currencyCode: amount.currencyCode,
              ...(card && { cardBrand: card.brand, cardLast4: card.last4 }),
              createdAt: now,
              updatedAt: now,
            })
            .onConflictDoNothing({ target: payments.orderId })
            .returning()
        ).at(0);
        if (!created) throw new PaymentExists();
        // Without a card, charge() fails it with INVALID_CARD_TOKEN.
        return { payment: created, card };
      })
      .catch((err: unknown) => {
        if (err instanceof PaymentExists) return undefined;
        throw err;
      });
    if (opened) return opened;
    const [existing] = await this.db.select().from(payments).where(eq(payments.orderId, event.orderId));
    return { payment: existing };
  }

  /** Step 2: the processor call, with bounded retries for outages. */
  private async charge(payment: PaymentRow, claimed?: CardTokenRow): Promise<ChargeOutcome> {
    const card = claimed ?? (await claimedCardToken(this.db, payment.orderId));
    // No number: the token's charge already ended (or it expired) and it was erased.
    if (!card?.cardNumber) return { kind: "failed", reason: "INVALID_CARD_TOKEN", attempts: payment.attempts };
    const { amountMinor, currencyCode } = payment;
    // open() stores both; a row without them cannot be charged.
    if (amountMinor === null || currencyCode === null) throw new Error(`payment ${payment.id} has no amount`);
    for (;;) {
      try {
        const result = await this.processor.charge({
          idempotencyKey: payment.orderId,
          cardNumber: card.cardNumber,
          amountMinor,
          currencyCode,
        });
        // A decision: the finish records the attempts with it, in the same
        // handler, so no separate progress update.
        switch (result.decision) {
          case "APPROVED":
            return { kind: "approved", chargeId: result.chargeId, attempts: result.attempts };
          case "DECLINED":
            return { kind: "failed", reason: "CARD_DECLINED", attempts: result.attempts };
          case "INSUFFICIENT_FUNDS":
            return { kind: "failed", reason: "INSUFFICIENT_FUNDS", attempts: result.attempts };
        }
      } catch (err) {
        if (!(err instanceof ProcessorUnavailable)) throw err;
        await this.recordAttempts(payment.id, err.attempts);
        // Counted per order by the processor, so the bound holds across
        // crashes and concurrent chargers too.
        if (err.attempts >= this.retry.maxAttempts) {
          return { kind: "failed", reason: "PROCESSOR_UNAVAILABLE", attempts: err.attempts };
        }
        const delay = this.retry.firstDelayMs * 2 ** (err.attempts - 1);
        this.logger.warn(
          { paymentId: payment.id, orderId: payment.orderId, attempt: err.attempts, retryInMs: delay },
          "card processor unavailable; retrying",
        );
        await sleep(delay);
      }
    }
  }

  /** Shows progress on a PENDING payment (GetPayment's `attempts`). */
  private async recordAttempts(paymentId: string, attempts: number): Promise<void> {
    await this.db
      .update(payments)
      .set({ attempts: sql`greatest(${payments.attempts}, ${attempts})`, updatedAt: new Date() })
      .where(and(eq(payments.id, paymentId), eq(payments.status, "PENDING")));
  }
}

/** open() found the order's payment in place: roll its transaction (and claim) back. */
class PaymentExists extends Error {
  override name = "PaymentExists";
}
