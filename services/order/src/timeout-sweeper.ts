// Enforces the saga's timeouts: every interval, takes the orders whose
// current waiting state is overdue and cancels them (TIMED_OUT) through the
// state machine. Rows are taken FOR UPDATE SKIP LOCKED, so several replicas
// sweep side by side without touching the same order, and an order that an
// event handler holds right now is simply left for the next pass (where the
// state machine sees whatever that handler committed).
import { and, asc, inArray, lte, sql } from "drizzle-orm";
import type { Logger } from "@shop/runtime/log";
import type { TransitionDeps } from "./apply-transition.ts";
import type { OrderDatabase } from "./order-reads.ts";
import { sagaStep } from "./saga-step.ts";
import { orders } from "./schema.ts";

const BATCH_SIZE = 50;

export interface TimeoutSweeperOptions {
  db: OrderDatabase;
  deps: TransitionDeps;
  intervalMs: number;
  logger: Logger;
}

export class TimeoutSweeper {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(private readonly options: TimeoutSweeperOptions) {}

  /** Also after stop(): the sweeper follows the release track that does the event-driven work. */
  start(): void {
    this.#stopped = false;
    this.#timer = setInterval(() => this.kick(), this.options.intervalMs);
    this.#timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  /** Starts a pass unless one is running. */
  kick(): void {
    if (this.#stopped || this.#running) return;
    this.#running = this.sweep()
      .then(() => undefined)
      .catch((err: unknown) => this.options.logger.error({ err }, "order timeout sweep failed; retrying next interval"))
      .finally(() => {
        this.#running = undefined;
      });
  }

  /** Cancels every overdue order now; returns how many were cancelled. */
  async sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      const cancelled = await this.options.db.transaction(async (tx) => {
        const overdue = await tx
          .select()
          .from(orders)
          .where(
            and(
              lte(orders.deadlineAt, sql`clock_timestamp()`),
              inArray(orders.status, ["PENDING", "AWAITING_PAYMENT"]),
            ),
          )
          .orderBy(asc(orders.deadlineAt))
          .limit(BATCH_SIZE)
          .for("update", { skipLocked: true });
        for (const order of overdue) await sagaStep(tx, this.options.deps, order, { type: "DeadlinePassed" });
        return overdue.length;
      });
      total += cancelled;
      if (cancelled < BATCH_SIZE || this.#stopped) return total;
    }
  }
}
