// The simulated card processor. It stands in for an external acquirer and
// behaves like one: every charge carries an idempotency key (the order id),
// and a repeated charge with the same key returns the first decision instead
// of charging again, so a caller that crashed between "charged" and "recorded
// it" can simply charge again. That, not any lock of ours, is what makes "no
// order is charged twice" survive crashes and redeliveries.
//
// Its ledger (processor_charges) is written in the processor's own short
// transactions, never in the caller's: an external system does not roll back
// with us. Test cards (documented on PaymentService in payment.proto):
//
//   4242 4242 4242 4242   approved
//   4000 0000 0000 0002   declined
//   4000 0000 0000 9995   insufficient funds
//   4000 0000 0000 0119   outage (ProcessorUnavailable) on every attempt
//   4000 0000 0000 0259   outage on the first two attempts for a key, then approved
//   4000 0000 0000 3063   approved after a delay (PROCESSOR_SLOW_DELAY_MS)
//   any other number      approved
import { setTimeout as sleep } from "node:timers/promises";
import { eq, sql } from "drizzle-orm";
import type { Database } from "@shop/runtime/db/database";
import { v7 as uuidv7 } from "uuid";
import * as schema from "./schema.ts";
import { processorCharges } from "./schema.ts";

type Behaviour = "decline" | "insufficient_funds" | "outage" | "outage_twice" | "slow_approve";

const TEST_CARDS: ReadonlyMap<string, Behaviour> = new Map([
  ["4000000000000002", "decline"],
  ["4000000000009995", "insufficient_funds"],
  ["4000000000000119", "outage"],
  ["4000000000000259", "outage_twice"],
  ["4000000000003063", "slow_approve"],
]);

export type ChargeDecision = "APPROVED" | "DECLINED" | "INSUFFICIENT_FUNDS";

export interface ChargeRequest {
  /** One key per order: the same key never charges twice. */
  idempotencyKey: string;
  cardNumber: string;
  amountMinor: bigint;
  currencyCode: string;
}

export interface ChargeResult {
  decision: ChargeDecision;
  /** The charge to refund later; meaningful when approved. */
  chargeId: string;
  /** Attempts made with this key so far, this one included. */
  attempts: number;
}

export interface RefundResult {
  refundId: string;
  refundedAt: Date;
}

/** The processor could not be reached or failed transiently: retry later. */
export class ProcessorUnavailable extends Error {
  override name = "ProcessorUnavailable";
  constructor(readonly attempts: number) {
    super("card processor unavailable");
  }
}

/** A request the processor refuses outright (a programming error on our side). */
export class ProcessorRejected extends Error {
  override name = "ProcessorRejected";
}

export interface CardProcessorOptions {
  /** How long the slow test card takes to approve. */
  slowDelayMs: number;
}

export class CardProcessor {
  constructor(
    private readonly db: Database<typeof schema>,
    private readonly options: CardProcessorOptions,
  ) {}

  /**
   * Charges the card once per idempotency key. Throws ProcessorUnavailable
   * (after recording the attempt) on an outage; the caller retries with the
   * same key.
   */
  async charge(request: ChargeRequest): Promise<ChargeResult> {
    const last4 = request.cardNumber.slice(-4);
    const settled = settledDecision(request.cardNumber);
    if (settled) {
      // Decided before the first attempt (it depends neither on attempts nor
      // on time): ledger row and decision in one statement. A key seen before
      // keeps its row; its decision stands, or, if an attempt left it
      // undecided, the general path below takes over.
      const [row] = await this.db
        .insert(processorCharges)
        .values({
          idempotencyKey: request.idempotencyKey,
          chargeId: uuidv7(),
          amountMinor: request.amountMinor,
          currencyCode: request.currencyCode,
          cardLast4: last4,
          attempts: 1,
          outcome: settled,
          decidedAt: new Date(),
        })
        .onConflictDoUpdate({
          target: processorCharges.idempotencyKey,
          set: { attempts: sql`${processorCharges.attempts}` },
        })
        .returning();
      assertSameCharge(row, request, last4);
      if (row.outcome !== null) {
        return { decision: row.outcome as ChargeDecision, chargeId: row.chargeId, attempts: row.attempts };
      }
    }
    const result = await this.db.transaction(async (tx) => {
      // The key's row, new or existing, locked, in one statement: a conflict
      // updates nothing but takes the row lock (waiting for a concurrent
      // first call to commit), which serialises concurrent calls with one
      // key: the second waits for the first decision and then returns it.
      const [row] = await tx
        .insert(processorCharges)
        .values({
          idempotencyKey: request.idempotencyKey,
          chargeId: uuidv7(),
          amountMinor: request.amountMinor,
          currencyCode: request.currencyCode,
          cardLast4: last4,
        })
        .onConflictDoUpdate({
          target: processorCharges.idempotencyKey,
          set: { attempts: sql`${processorCharges.attempts}` },
        })
        .returning();
      assertSameCharge(row, request, last4);
      if (row.outcome !== null) {
        return { decision: row.outcome as ChargeDecision, chargeId: row.chargeId, attempts: row.attempts };
      }
      const attempts = row.attempts + 1;
      const decision = await this.decide(request.cardNumber, attempts);
      await tx
        .update(processorCharges)
        .set({ attempts, ...(decision !== "UNAVAILABLE" && { outcome: decision, decidedAt: new Date() }) })
        .where(eq(processorCharges.idempotencyKey, request.idempotencyKey));
      return { decision, chargeId: row.chargeId, attempts };
    });
    // Thrown after the commit, so that the attempt stays counted.
    if (result.decision === "UNAVAILABLE") throw new ProcessorUnavailable(result.attempts);
    return result as ChargeResult;
  }

  /** Refunds an approved charge in full; refunding it again returns the first refund. */
  async refund(chargeId: string): Promise<RefundResult> {
    return this.db.transaction(async (tx) => {
      const row = (
        await tx.select().from(processorCharges).where(eq(processorCharges.chargeId, chargeId)).for("update")
      ).at(0);
      if (!row || row.outcome !== "APPROVED") throw new ProcessorRejected(`no approved charge ${chargeId} to refund`);
      if (row.refundId !== null && row.refundedAt !== null)
        return { refundId: row.refundId, refundedAt: row.refundedAt };
      const refund = { refundId: uuidv7(), refundedAt: new Date() };
      await tx.update(processorCharges).set(refund).where(eq(processorCharges.chargeId, chargeId));
      return refund;
    });
  }

  private async decide(cardNumber: string, attempt: number): Promise<ChargeDecision | "UNAVAILABLE"> {
    const settled = settledDecision(cardNumber);
    if (settled) return settled;
    switch (TEST_CARDS.get(cardNumber)) {
      case "outage":
        return "UNAVAILABLE";
      case "outage_twice":
        return attempt <= 2 ? "UNAVAILABLE" : "APPROVED";
      case "slow_approve":
        await sleep(this.options.slowDelayMs);
        return "APPROVED";
      default:
        throw new Error(`no decision rule for test card behaviour ${TEST_CARDS.get(cardNumber)}`);
    }
  }
}

/** The decision for a card whose answer is the same on every attempt (most cards), else undefined. */
function settledDecision(cardNumber: string): ChargeDecision | undefined {
  switch (TEST_CARDS.get(cardNumber)) {
    case undefined:
      return "APPROVED";
    case "decline":
      return "DECLINED";
    case "insufficient_funds":
      return "INSUFFICIENT_FUNDS";
    default:
      return undefined;
  }
}

function assertSameCharge(row: typeof processorCharges.$inferSelect, request: ChargeRequest, last4: string): void {
  if (row.amountMinor !== request.amountMinor || row.currencyCode !== request.currencyCode || row.cardLast4 !== last4) {
    throw new ProcessorRejected("idempotency key reused with different charge parameters");
  }
}
