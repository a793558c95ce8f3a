// OutboxRelay: publishes outbox rows to JetStream, at least once, in order.
//
// - Wakes on NOTIFY (enqueueEvent issues one per transaction) and on every
//   (re)connect of the LISTEN connection, and polls as a fallback (rows a
//   crashed replica held locked, rows inserted without NOTIFY). The poll
//   backs off while it finds nothing, from the poll interval to the idle
//   interval, and asks only whether an unsent row exists (one autocommit
//   statement, no row locks), so an idle service does almost nothing.
// - Takes unsent rows with FOR UPDATE SKIP LOCKED inside a transaction, so
//   several replicas share the work without publishing the same row twice
//   concurrently, and marks them sent in the same statement.
// - Publishes with Nats-Msg-Id = event id and commits the sent mark only
//   after JetStream acked them. A crash between the ack and the commit leaves
//   the rows unsent: the next relay republishes them with the same Nats-Msg-Id,
//   JetStream's duplicate window drops them, and consumers' inboxes drop any
//   that arrive after the window.
// - Deletes rows published longer ago than the retention (default 7 days),
//   hourly and in small batches, so the outbox does not grow forever; the
//   events themselves live on in their JetStream streams.
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { PubAck } from "@nats-io/jetstream";
import { asc, inArray, isNull, lt, sql } from "drizzle-orm";
import { outbox, type EventHeaders, type OutboxRow } from "../db/schema.ts";
import type { Database } from "../db/database.ts";
import type { EventBus, EventLogger } from "./bus.ts";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER } from "./headers.ts";
import { OUTBOX_CHANNEL } from "./outbox.ts";

export interface OutboxRelayOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Database<any>;
  bus: EventBus;
  /** Default OUTBOX_CHANNEL. */
  channel?: string;
  /** Fallback poll while there is work (or a publish failed); default 1000 ms. */
  pollIntervalMs?: number;
  /** Longest fallback poll interval when idle (doubling from pollIntervalMs); default 30 s. */
  idlePollMaxMs?: number;
  /** Rows per transaction; default 100. */
  batchSize?: number;
  /** PubAck timeout; default 5000 ms. */
  publishTimeoutMs?: number;
  /** Keep published rows this long (for inspection); default 7 days; 0 keeps them forever. */
  retainPublishedMs?: number;
  /** How often to delete published rows past the retention; default 1 hour. */
  pruneIntervalMs?: number;
  logger?: EventLogger;
  /**
   * Called after JetStream acked a batch and before the rows' sent mark is
   * committed (inside the row-locking transaction). For metrics, and the fault-injection
   * hook the crash tests use to SIGKILL the process at exactly that point.
   */
  afterPublish?: (events: Pick<OutboxRow, "id" | "subject" | "eventType">[]) => void | Promise<void>;
  /**
   * Wraps the publishing of each event (telemetry: a publish span whose
   * trace context `publish` adds to the message headers, and metrics).
   */
  aroundPublish?: (event: OutboxEvent, publish: PublishEvent) => Promise<PubAck>;
}

/** An outbox row being published. */
export type OutboxEvent = Pick<OutboxRow, "id" | "subject" | "eventType" | "headers" | "payload" | "createdAt">;

/** Publishes the event with `extraHeaders` on top of its stored headers. */
export type PublishEvent = (extraHeaders?: EventHeaders) => Promise<PubAck>;

export interface OutboxRelayStats {
  published: number;
  duplicates: number;
  failures: number;
  lastError?: string;
}

const PRUNE_BATCH = 1000;

export class OutboxRelay {
  readonly stats: OutboxRelayStats = { published: 0, duplicates: 0, failures: 0 };
  readonly #o: Required<Omit<OutboxRelayOptions, "afterPublish" | "aroundPublish" | "logger">> &
    Pick<OutboxRelayOptions, "afterPublish" | "aroundPublish">;
  readonly #log: EventLogger;
  #timer: NodeJS.Timeout | undefined;
  #pollDelayMs: number;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruning: Promise<number> | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  #dirty = false;
  #running: Promise<void> | undefined;
  #started = false;
  #stopped = false;

  constructor(options: OutboxRelayOptions) {
    this.#o = {
      channel: OUTBOX_CHANNEL,
      pollIntervalMs: 1000,
      idlePollMaxMs: 30_000,
      batchSize: 100,
      publishTimeoutMs: 5000,
      retainPublishedMs: 7 * 24 * 3600 * 1000,
      pruneIntervalMs: 3600 * 1000,
      ...options,
    };
    this.#log = options.logger ?? options.bus.logger;
    this.#pollDelayMs = this.#o.pollIntervalMs;
  }

  /** Starts listening and polling; resolves once LISTEN is active. */
  async start(): Promise<void> {
    if (this.#started) throw new Error("OutboxRelay already started");
    this.#started = true;
    // onlisten runs on every (re)connect of the LISTEN connection: anything
    // notified while it was down is picked up right away.
    const listening = await this.#o.db.$client.listen(
      this.#o.channel,
      () => this.kick(),
      () => this.kick(),
    );
    this.#unlisten = () => listening.unlisten();
    this.#schedulePoll();
    if (this.#o.retainPublishedMs > 0) {
      this.#pruneTimer = setInterval(() => void this.#pruneInBackground(), this.#o.pruneIntervalMs);
      this.#pruneTimer.unref();
    }
    this.kick();
  }

  /** Asks for a publishing pass (coalesced with one already running). */
  kick(): void {
    if (this.#stopped) return;
    this.#dirty = true;
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
    });
  }

  /** Publishes everything unsent now, waiting for it (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
    await this.#publishAll(true);
  }

  /** Stops listening and polling, finishes the pass in flight, then flushes. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#pruneTimer);
    await this.#pruning?.catch(() => {});
    await this.#unlisten?.().catch(() => {});
    while (this.#running) await this.#running;
    if (this.#started) await this.#publishAll(false);
  }

  /**
   * Deletes rows published more than `retainPublishedMs` ago (none when it is
   * 0), 1,000 per statement so no delete holds many locks for long; resolves
   * with how many. Unsent rows are never deleted, however old.
   */
  async prunePublished(): Promise<number> {
    if (this.#o.retainPublishedMs <= 0) return 0;
    const { db } = this.#o;
    const cutoff = sql`now() - ${`${this.#o.retainPublishedMs} milliseconds`}::interval`;
    let total = 0;
    for (;;) {
      const expired = db
        .select({ id: outbox.id })
        .from(outbox)
        .where(lt(outbox.publishedAt, cutoff))
        .limit(PRUNE_BATCH);
      const deleted = await db.delete(outbox).where(inArray(outbox.id, expired)).returning({ id: outbox.id });
      total += deleted.length;
      if (deleted.length < PRUNE_BATCH || this.#stopped) return total;
    }
  }

  async #pruneInBackground(): Promise<void> {
    if (this.#pruning) return;
    this.#pruning = this.prunePublished();
    try {
      const deleted = await this.#pruning;
      if (deleted > 0) this.#log.info({ deleted }, "deleted published outbox rows past their retention");
    } catch (error) {
      this.#log.warn({ err: error }, "pruning published outbox rows failed; will retry");
    } finally {
      this.#pruning = undefined;
    }
  }

  #schedulePoll(): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#poll(), this.#pollDelayMs);
    this.#timer.unref();
  }

  /** The fallback poll: a pass only if some row is unsent; backs off while none is. */
  async #poll(): Promise<void> {
    if (this.#stopped) return;
    let unsent = true;
    if (!this.#running) {
      try {
        const rows = await this.#o.db.select({ id: outbox.id }).from(outbox).where(isNull(outbox.publishedAt)).limit(1);
        unsent = rows.length > 0;
      } catch (error) {
        this.#log.warn({ err: error }, "outbox poll failed; will retry");
      }
    }
    this.#pollDelayMs = unsent
      ? this.#o.pollIntervalMs
      : Math.min(this.#o.idlePollMaxMs, Math.max(this.#pollDelayMs * 2, this.#o.pollIntervalMs));
    if (unsent) this.kick();
    this.#schedulePoll();
  }

  async #drain(): Promise<void> {
    while (this.#dirty && !this.#stopped) {
      this.#dirty = false;
      await this.#publishAll(false);
    }
  }

  async #publishAll(rethrow: boolean): Promise<void> {
    try {
      // A full batch means there may be more; a partial one (or a batch with
      // failures) ends the pass: the next notification or poll resumes.
      while ((await this.#publishBatch()) === this.#o.batchSize);
    } catch (error) {
      this.stats.lastError = String(error);
      this.#log.error({ err: error }, "outbox relay pass failed");
      if (rethrow) throw error;
    }
  }

  /** Publishes one batch; returns how many rows were published. */
  async #publishBatch(): Promise<number> {
    const { db, bus, batchSize } = this.#o;
    return db.transaction(async (tx) => {
      // Takes the batch and marks it sent in one statement. The mark is only
      // committed after every publish was acked: until then the rows stay
      // locked, and a crash (or a failed pass) rolls the mark back, so they
      // stay unsent exactly as if they had been marked after publishing. A
      // row whose publish fails is unmarked again below, before the commit.
      const batch = tx
        .select({ id: outbox.id })
        .from(outbox)
        .where(isNull(outbox.publishedAt))
        .orderBy(asc(outbox.seq))
        .limit(batchSize)
        .for("update", { skipLocked: true });
      const rows = (
        await tx
          .update(outbox)
          .set({ publishedAt: sql`now()` })
          .where(inArray(outbox.id, batch))
          .returning()
      ).sort((a, b) => a.seq - b.seq);
      if (rows.length === 0) return 0;

      for (const type of new Set(rows.map((r) => r.eventType))) await bus.ensureStreamFor(type);

      // Pipelined: one connection keeps publish order; all acks awaited.
      const results = await Promise.allSettled(
        rows.map((row) => {
          const publish: PublishEvent = (extraHeaders = {}) => {
            const h = natsHeaders();
            for (const [k, v] of Object.entries({ ...row.headers, ...extraHeaders })) h.set(k, v);
            h.set(EVENT_ID_HEADER, row.id);
            h.set(EVENT_TYPE_HEADER, row.eventType);
            return bus.js.publish(row.subject, row.payload, {
              msgID: row.id,
              headers: h,
              timeout: this.#o.publishTimeoutMs,
            });
          };
          return this.#o.aroundPublish ? this.#o.aroundPublish(row, publish) : publish();
        }),
      );
      const sent: OutboxRow[] = [];
      const failed: { row: OutboxRow; error: string }[] = [];
      results.forEach((r, i) => {
        const row = rows[i];
        if (r.status === "fulfilled") {
          sent.push(row);
          if (r.value.duplicate) this.stats.duplicates++;
        } else {
          failed.push({ row, error: String(r.reason) });
          // Perhaps the stream was deleted: re-create it on the next pass.
          bus.forgetStreamFor(row.eventType);
        }
      });

      if (sent.length > 0) {
        await this.#o.afterPublish?.(sent.map(({ id, subject, eventType }) => ({ id, subject, eventType })));
      }
      for (const { row, error } of failed) {
        await tx
          .update(outbox)
          .set({ publishedAt: null, attempts: sql`${outbox.attempts} + 1`, lastError: error.slice(0, 2000) })
          .where(inArray(outbox.id, [row.id]));
      }
      this.stats.published += sent.length;
      if (failed.length > 0) {
        this.stats.failures += failed.length;
        this.stats.lastError = failed[0].error;
        this.#log.warn({ failed: failed.length, error: failed[0].error }, "outbox publish failed; will retry");
        return 0;
      }
      return rows.length;
    });
  }
}
