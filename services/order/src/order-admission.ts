// Admission control for PlaceOrder: what keeps a saturated shop finishing
// the orders it accepted instead of accepting everything and slowing to a
// crawl. Checked before any work (no identity or catalog call, no
// transaction), refused with ResourceExhausted, retryable, with a
// Retry-After:
//
// - PlaceOrder calls being handled at once by this replica (placing);
// - orders still in the saga (PENDING or AWAITING_PAYMENT) in the database,
//   the saga's backlog, which is what makes place→CONFIRMED latency grow
//   without bound under overload (Little's law: wait = backlog ÷
//   throughput). The backlog may grow to what the saga finishes in
//   `targetWaitMs` at its capacity, and never beyond `maxInSaga`. The
//   capacity is the rate at which orders left the saga over the last
//   RATE_WINDOW_MS while it had a backlog of at least `minInSaga` (the rate
//   of a shop with little to do is only its arrival rate); until such a
//   rate is known there is no such limit, and below `minInSaga` an order is
//   always taken, so a saga that finishes nothing for a while (inventory or
//   payment restarting) still takes a few orders and finishes them later;
// - optionally (maxLagging), not while more than that many orders have
//   waited longer than `lagMs`.
//
// The counts are sampled with one statement at most every `sampleMs` while
// orders are being placed (never when idle), plus the orders this replica
// accepted since the sample. Orders that left the saga between two samples,
// across all replicas: the backlog before, plus the orders placed since
// (counted on the primary key: ids are UUIDv7, minted at placement), minus
// the backlog now.
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
  /** The backlog may hold what the saga finishes in this long; 0 = no such rule. */
  targetWaitMs: number;
  /** Below this backlog an order is always taken (the rate rule does not apply). */
  minInSaga: number;
  /** Orders in the saga for longer than lagMs beyond which new ones are refused; 0 = no such rule. */
  maxLagging: number;
  lagMs: number;
  /** How stale the in-saga count may be. */
  sampleMs: number;
}

const RETRY_AFTER_SECONDS = "1";
/** The saga's recent finishing rate is measured over this long. */
const RATE_WINDOW_MS = 3_000;

interface Sample {
  /** Database time of the sample, ms since the epoch. */
  at: number;
  inSaga: number;
  /** Orders that left the saga since the previous sample... */
  finished: number;
  /** ...in this many ms... */
  span: number;
  /** ...with a backlog of at least minInSaga: the saga had work enough to show its capacity. */
  saturated: boolean;
}

/** The lowest UUIDv7 minted at `ms` (its first 48 bits are the time). */
function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

export class OrderAdmission {
  #placing = 0;
  #inSaga = 0;
  #lagging = 0;
  #acceptedSinceSample = 0;
  #sampledAt = -Infinity;
  #sampling: Promise<void> | undefined;
  #samples: Sample[] = [];

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
    const { maxLagging, targetWaitMs } = this.limits;
    if (maxInSaga > 0 || maxLagging > 0 || targetWaitMs > 0) {
      await this.#freshCount();
      const backlog = this.#inSaga + this.#acceptedSinceSample + this.#placing;
      if (maxInSaga > 0 && backlog >= maxInSaga) {
        throw busy("too many orders are waiting for stock or payment");
      }
      if (targetWaitMs > 0 && backlog >= this.#backlogLimit(targetWaitMs)) {
        throw busy("orders are waiting for stock or payment longer than they should");
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

  /** The backlog the saga finishes in `targetWaitMs` at its recent rate, but at least minInSaga. */
  #backlogLimit(targetWaitMs: number): number {
    // The rate while the saga had a backlog is its capacity; the rate of a
    // shop with little to do is only its arrival rate, and would refuse the
    // next burst. Without half a window of saturated samples: no rule.
    const saturated = this.#samples.filter((sample) => sample.saturated);
    const span = saturated.reduce((ms, sample) => ms + sample.span, 0);
    if (span < RATE_WINDOW_MS / 2) return Infinity;
    const finished = saturated.reduce((n, sample) => n + sample.finished, 0);
    return Math.max(this.limits.minInSaga, (finished / span) * targetWaitMs);
  }

  /** Takes a sample now (admit() samples in the background once it has one). */
  refresh(): Promise<void> {
    return (this.#sampling ??= this.#sample().finally(() => (this.#sampling = undefined)));
  }

  /** Waits for a sample only when there is none yet; otherwise refreshes in the background. */
  async #freshCount(): Promise<void> {
    if (performance.now() - this.#sampledAt < this.limits.sampleMs) return;
    const sampling = this.refresh();
    // #sample() never rejects: a failed count keeps the last one.
    if (this.#sampledAt === -Infinity) await sampling;
  }

  async #sample(): Promise<void> {
    const startedAt = performance.now();
    const accepted = this.#acceptedSinceSample;
    try {
      const previous = this.#samples.at(-1);
      const waiting = and(isNotNull(orders.deadlineAt), inArray(orders.status, ["PENDING", "AWAITING_PAYMENT"]));
      // The backlog is served by orders_deadline_idx (only waiting orders
      // have a deadline), the orders placed since the last sample by the
      // primary key.
      const [row] = await this.db
        .select({
          n: sql<number>`count(*)::int`,
          lagging: sql<number>`(count(*) filter (where ${orders.createdAt} < now() - ${this.limits.lagMs}::double precision * interval '1 millisecond'))::int`,
          placedSince: previous
            ? sql<number>`(select count(*)::int from ${orders} where ${orders.id} >= ${uuidv7Floor(previous.at)}::uuid)`
            : sql<number>`0`,
          at: sql<number>`(extract(epoch from now()) * 1000)::float8`,
        })
        .from(orders)
        .where(waiting);
      this.#inSaga = row.n;
      this.#lagging = row.lagging;
      this.#samples.push({
        at: row.at,
        inSaga: row.n,
        finished: previous ? Math.max(0, previous.inSaga + row.placedSince - row.n) : 0,
        span: previous ? row.at - previous.at : 0,
        saturated: previous !== undefined && previous.inSaga >= Math.max(1, this.limits.minInSaga),
      });
      while (this.#samples.length > 1 && row.at - this.#samples[0].at > RATE_WINDOW_MS) this.#samples.shift();
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
