// Admission control for PlaceOrder: what keeps a saturated shop finishing
// the orders it accepted instead of accepting everything and slowing to a
// crawl. Two bounds, both checked before any work (no identity or catalog
// call, no transaction), refused with ResourceExhausted, retryable, with a
// Retry-After:
//
// - PlaceOrder calls being handled at once by this replica (placing);
// - orders still in the saga (PENDING or AWAITING_PAYMENT) in the database:
//   the saga's backlog, which is what makes place→CONFIRMED latency grow
//   without bound under overload (Little's law: latency = backlog ÷
//   throughput). A fixed cap cannot know the throughput, so a second rule
//   adapts to it: refuse while more than `maxLagging` orders have waited
//   longer than `lagMs` (the saga is falling behind whatever the machine);
//   a few orders waiting long for their own reasons (a slow card, processor
//   retries) do not close the door. The counts are sampled with one indexed query at most every
//   `sampleMs` while orders are being placed (never when idle), plus the
//   orders this replica accepted since the sample.
//
// Orders already accepted are never affected: they finish as before.
import { Code, ConnectError } from "@connectrpc/connect";
import { and, inArray, isNotNull, sql } from "drizzle-orm";
import type { OrderDatabase } from "./order-reads.ts";
import { orders } from "./schema.ts";

export interface AdmissionLimits {
  /** PlaceOrder calls in progress per replica; 0 = unbounded. */
  maxPlacing: number;
  /** Orders in the saga (all replicas); 0 = unbounded. */
  maxInSaga: number;
  /** Orders in the saga for longer than lagMs beyond which new ones are refused; 0 = no such rule. */
  maxLagging: number;
  lagMs: number;
  /** How stale the in-saga count may be. */
  sampleMs: number;
}

const RETRY_AFTER_SECONDS = "1";

export class OrderAdmission {
  #placing = 0;
  #inSaga = 0;
  #lagging = 0;
  #acceptedSinceSample = 0;
  #sampledAt = -Infinity;
  #sampling: Promise<void> | undefined;

  constructor(
    private readonly db: OrderDatabase,
    private readonly limits: AdmissionLimits,
  ) {}

  /** Runs `place` if the shop has room for another order, else throws ResourceExhausted. */
  async admit<T>(place: () => Promise<T>): Promise<T> {
    const { maxPlacing, maxInSaga } = this.limits;
    if (maxPlacing > 0 && this.#placing >= maxPlacing) {
      throw busy(`${String(this.#placing)} orders are being placed right now`);
    }
    const { maxLagging } = this.limits;
    if (maxInSaga > 0 || maxLagging > 0) {
      await this.#freshCount();
      if (maxInSaga > 0 && this.#inSaga + this.#acceptedSinceSample + this.#placing >= maxInSaga) {
        throw busy("too many orders are waiting for stock or payment");
      }
      if (maxLagging > 0 && this.#lagging > maxLagging) {
        throw busy("orders are waiting longer than usual for stock or payment");
      }
    }
    this.#placing++;
    try {
      const placed = await place();
      this.#acceptedSinceSample++;
      return placed;
    } finally {
      this.#placing--;
    }
  }

  /** Waits for a sample only when there is none yet; otherwise refreshes in the background. */
  async #freshCount(): Promise<void> {
    if (performance.now() - this.#sampledAt < this.limits.sampleMs) return;
    this.#sampling ??= this.#sample().finally(() => (this.#sampling = undefined));
    if (this.#sampledAt === -Infinity) await this.#sampling;
  }

  async #sample(): Promise<void> {
    const startedAt = performance.now();
    const accepted = this.#acceptedSinceSample;
    try {
      // Served by orders_deadline_idx: only waiting orders have a deadline.
      const [row] = await this.db
        .select({
          n: sql<number>`count(*)::int`,
          lagging: sql<number>`(count(*) filter (where ${orders.createdAt} < now() - ${this.limits.lagMs}::double precision * interval '1 millisecond'))::int`,
        })
        .from(orders)
        .where(and(isNotNull(orders.deadlineAt), inArray(orders.status, ["PENDING", "AWAITING_PAYMENT"])));
      this.#inSaga = row.n;
      this.#lagging = row.lagging;
      // Accepted before the count was taken are in it.
      this.#acceptedSinceSample -= accepted;
      this.#sampledAt = startedAt;
    } catch {
      // No count (database trouble): keep the last one; PlaceOrder itself reports the database.
      this.#sampledAt = startedAt;
    }
  }
}

function busy(why: string): ConnectError {
  return new ConnectError(
    `the shop is busy (${why}); nothing was placed, try again in a moment`,
    Code.ResourceExhausted,
    { "retry-after": RETRY_AFTER_SECONDS },
  );
}
