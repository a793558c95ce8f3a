// Enforces the saga's timeouts: takes the orders whose current waiting state
// is overdue and cancels them (TIMED_OUT) through the state machine.
//
// Deadline-driven: after each pass it asks the database when the next
// deadline falls and sleeps until then, but never longer than the shortest
// timeout (an order placed while it sleeps cannot fall due earlier than
// that), and never shorter than the interval. An idle order service thus
// asks once per ORDER_PENDING_TIMEOUT_MS instead of every interval, and
// commits nothing. Rows are taken FOR UPDATE SKIP LOCKED, so several replicas
// sweep side by side without touching the same order, and an order that an
// event handler holds right now is simply left for the next pass (where the
// state machine sees whatever that handler committed).
import { and, asc, inArray, isNotNull, lte, sql } from "drizzle-orm";
import type { Logger } from "@shop/runtime/log";
import type { TransitionDeps } from "./apply-transition.ts";
import type { OrderDatabase } from "./order-reads.ts";
import { sagaStep } from "./saga-step.ts";
import { orders } from "./schema.ts";

const BATCH_SIZE = 50;

export interface TimeoutSweeperOptions {
  db: OrderDatabase;
  deps: TransitionDeps;
  /** Shortest sleep between passes (granularity of the deadlines). */
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
    this.kick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** Starts a pass unless one is running; the pass schedules the next one. */
  kick(): void {
    if (this.#stopped || this.#running) return;
    clearTimeout(this.#timer);
    let wait = this.options.intervalMs;
    this.#running = this.#pass()
      .then((ms) => {
        wait = ms;
      })
      .catch((err: unknown) => this.options.logger.error({ err }, "order timeout sweep failed; retrying next interval"))
      .finally(() => {
        this.#running = undefined;
        if (this.#stopped) return;
        this.#timer = setTimeout(() => this.kick(), wait);
        this.#timer.unref();
      });
  }

  /** Sweeps if a deadline has passed (no transaction otherwise); returns how long to sleep. */
  async #pass(): Promise<number> {
    const { intervalMs, deps } = this.options;
    const longest = Math.max(intervalMs, Math.min(deps.timeouts.pendingTimeoutMs, deps.timeouts.paymentTimeoutMs));
    let next = await this.msUntilNextDeadline();
    if (next !== undefined && next <= 0) {
      await this.sweep();
      next = await this.msUntilNextDeadline();
    }
    if (next === undefined) return longest;
    // A few ms late, so the deadline has passed by the database's clock too.
    return Math.min(longest, Math.max(intervalMs, Math.ceil(next) + 5));
  }

  /** Milliseconds until the earliest deadline of a waiting order (negative: overdue); undefined if none waits. */
  async msUntilNextDeadline(): Promise<number | undefined> {
    const row = (
      await this.options.db
        .select({
          ms: sql<number | null>`(extract(epoch from min(${orders.deadlineAt}) - clock_timestamp()) * 1000)::float8`,
        })
        .from(orders)
        .where(and(isNotNull(orders.deadlineAt), inArray(orders.status, ["PENDING", "AWAITING_PAYMENT"])))
    ).at(0);
    return row?.ms ?? undefined;
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
