// Finishes payments left PENDING with nobody charging them. Normally a crash
// mid-charge is repaired by JetStream redelivering the StockReserved; this
// sweep covers the rest (the event was dead-lettered after repeated database
// errors, say), so that a charge approved by the processor is always recorded
// — and refunded if its order was cancelled meanwhile — and the order's saga
// hears about it.
//
// Each stale payment is claimed by bumping its updated_at with a conditional
// update, so replicas sweeping at once do not all charge it (doing so would
// still be safe: charging is idempotent per order).
import { and, eq, lt } from "drizzle-orm";
import type { Database } from "@shop/runtime/db/database";
import type { Logger } from "@shop/runtime/log";
import { eraseExpiredCardNumbers } from "./card-tokens.ts";
import type { OrderCharger } from "./order-charger.ts";
import * as schema from "./schema.ts";
import { payments } from "./schema.ts";

export interface PendingRecoveryOptions {
  /** A PENDING payment unchanged for this long is considered abandoned. */
  staleAfterMs: number;
  intervalMs: number;
  /** Payments finished per sweep. */
  batchSize?: number;
}

export class PendingPaymentRecovery {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly db: Database<typeof schema>,
    private readonly charger: OrderCharger,
    private readonly options: PendingRecoveryOptions,
    private readonly logger: Logger,
  ) {}

  /** Also after stop(): recovery follows the release track that does the event-driven work. */
  start(): void {
    this.#stopped = false;
    this.#timer = setInterval(() => {
      this.#running ??= this.sweep()
        .then(() => undefined)
        .catch((err: unknown) => this.logger.error({ err }, "pending payment recovery failed"))
        .finally(() => {
          this.#running = undefined;
        });
    }, this.options.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  /** One pass; returns how many payments it picked up. */
  async sweep(): Promise<number> {
    // Card numbers of tokens that expired unused are not kept either.
    await eraseExpiredCardNumbers(this.db, new Date());
    const threshold = new Date(Date.now() - this.options.staleAfterMs);
    const stale = await this.db
      .select({ id: payments.id })
      .from(payments)
      .where(and(eq(payments.status, "PENDING"), lt(payments.updatedAt, threshold)))
      .orderBy(payments.updatedAt)
      .limit(this.options.batchSize ?? 20);
    let picked = 0;
    for (const { id } of stale) {
      if (this.#stopped) break;
      const claimed = (
        await this.db
          .update(payments)
          .set({ updatedAt: new Date() })
          .where(and(eq(payments.id, id), eq(payments.status, "PENDING"), lt(payments.updatedAt, threshold)))
          .returning()
      ).at(0);
      if (!claimed) continue; // finished, or claimed by another replica
      picked++;
      this.logger.warn({ paymentId: claimed.id, orderId: claimed.orderId }, "resuming an abandoned pending payment");
      try {
        await this.db.transaction((tx) => this.charger.complete(tx, claimed));
      } catch (err) {
        this.logger.error({ err, paymentId: claimed.id }, "cannot finish pending payment; will retry");
      }
    }
    return picked;
  }
}
