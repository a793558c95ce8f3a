// Fans new notifications out to the WatchNotifications streams of this
// process. One LISTEN connection per process (postgres.js `sql.listen`)
// hears the NOTIFY that every replica issues when it commits a notification,
// so a watcher here sees notifications created anywhere.
//
// Nothing is missed:
// - a watcher is registered before its stream starts, and the snapshot of
//   what already existed is taken after that, so every notification committed
//   once the watch is registered either reaches it through its NOTIFY or, if
//   the NOTIFY was lost, through a sweep;
// - a sweep (when the LISTEN connection comes back after a drop, and every
//   few seconds as a safety net while anyone watches) re-reads each watched
//   user's recent notifications and delivers those the watcher neither knew
//   at the start nor was sent since. Each watcher remembers the ids it sent,
//   so no notification is sent to it twice.
import { and, asc, gte, inArray, eq } from "drizzle-orm";
import type { Database } from "@shop/runtime/db/database";
import type { Logger } from "@shop/runtime/log";
import { NOTIFICATION_CHANNEL, type NotificationCreatedSignal } from "./record-notification.ts";
import * as schema from "./schema.ts";
import { notifications, type NotificationRow } from "./schema.ts";

type NotificationDatabase = Database<typeof schema>;

/**
 * How long before a watch starts its snapshot and sweeps look: longer than a
 * transaction that records a notification takes between minting the id and
 * committing, so a late-committing notification still counts as new.
 */
const LOOKBACK_MS = 60_000;
/** Users per sweep query (bounded IN lists). */
const SWEEP_CHUNK = 500;

/** The smallest UUID whose UUIDv7 timestamp is `ms`: a lower bound for ids minted from then on. */
function uuidFloor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

function isSignal(value: unknown): value is NotificationCreatedSignal {
  const v = value as NotificationCreatedSignal | null;
  return typeof v === "object" && v !== null && typeof v.userId === "string" && typeof v.id === "string";
}

/** One open WatchNotifications stream: an async queue of the caller's new notifications. */
export class NotificationWatch implements AsyncIterable<NotificationRow> {
  readonly userId: string;
  /** Sweeps ignore ids below this. */
  readonly floor: string;
  /** Ids that existed when the watch started (undefined until read): not new. */
  known: ReadonlySet<string> | undefined;
  readonly #sent = new Set<string>();
  readonly #queue: NotificationRow[] = [];
  readonly #signal: AbortSignal;
  readonly #onClose: (watch: NotificationWatch) => void;
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(userId: string, signal: AbortSignal, onClose: (watch: NotificationWatch) => void) {
    this.userId = userId;
    this.floor = uuidFloor(Date.now() - LOOKBACK_MS);
    this.#signal = signal;
    this.#onClose = onClose;
    signal.addEventListener("abort", () => this.close(), { once: true });
  }

  /** Queues `row` unless this watch already got it; true if queued. */
  offer(row: NotificationRow): boolean {
    if (this.#closed || row.userId !== this.userId || this.#sent.has(row.id)) return false;
    this.#sent.add(row.id);
    this.#queue.push(row);
    this.#wake?.();
    return true;
  }

  /** True for a sweep's row this watch has not seen and that is newer than its start. */
  isMissing(row: NotificationRow): boolean {
    return this.known !== undefined && row.id >= this.floor && !this.known.has(row.id) && !this.#sent.has(row.id);
  }

  /** Ends the iteration (after what is queued is consumed) and unregisters. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    this.#onClose(this);
  }

  get closed(): boolean {
    return this.#closed;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<NotificationRow> {
    try {
      for (;;) {
        const row = this.#queue.shift();
        if (row) {
          yield row;
          continue;
        }
        if (this.#closed || this.#signal.aborted) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
      }
    } finally {
      this.close();
    }
  }
}

export interface NotificationFeedOptions {
  db: NotificationDatabase;
  logger: Logger;
  /** Safety-net sweep while anyone watches; default 5000 ms. */
  sweepIntervalMs?: number;
}

export class NotificationFeed {
  readonly #db: NotificationDatabase;
  readonly #log: Logger;
  readonly #sweepIntervalMs: number;
  readonly #watchers = new Map<string, Set<NotificationWatch>>();
  #signalled: string[] = [];
  #fetching: Promise<void> | undefined;
  #sweeping: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unlisten: (() => Promise<unknown>) | undefined;
  #listens = 0;
  #stopped = false;

  constructor(options: NotificationFeedOptions) {
    this.#db = options.db;
    this.#log = options.logger;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 5000;
  }

  /** Resolves once LISTEN is active: watches opened from then on miss nothing. */
  async start(): Promise<void> {
    const listening = await this.#db.$client.listen(
      NOTIFICATION_CHANNEL,
      (payload) => this.#onSignal(payload),
      // Called again each time postgres.js re-establishes the LISTEN
      // connection: NOTIFYs sent while it was down are gone, so sweep.
      () => {
        if (this.#listens++ > 0) {
          this.#log.warn("notification LISTEN connection re-established; sweeping for missed notifications");
          void this.sweep();
        }
      },
    );
    this.#unlisten = () => listening.unlisten();
    this.#timer = setInterval(() => {
      if (this.#watchers.size > 0) void this.sweep();
    }, this.#sweepIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const set of [...this.#watchers.values()]) for (const watch of [...set]) watch.close();
    await this.#unlisten?.().catch(() => {});
    await Promise.allSettled([this.#fetching, this.#sweeping]);
  }

  /** Open watches (observability, tests). */
  get watchCount(): number {
    let n = 0;
    for (const set of this.#watchers.values()) n += set.size;
    return n;
  }

  /**
   * Registers a watch for `userId` at once (before any await), then records
   * what already exists. Ends when `signal` aborts or the feed stops.
   */
  async watch(userId: string, signal: AbortSignal): Promise<NotificationWatch> {
    if (this.#stopped) throw new Error("notification feed stopped");
    const watch = new NotificationWatch(userId, signal, (w) => this.#unregister(w));
    let set = this.#watchers.get(userId);
    if (!set) this.#watchers.set(userId, (set = new Set()));
    set.add(watch);
    try {
      const existing = await this.#db
        .select({ id: notifications.id })
        .from(notifications)
        .where(and(eq(notifications.userId, userId), gte(notifications.id, watch.floor)));
      watch.known = new Set(existing.map((r) => r.id));
      return watch;
    } catch (err) {
      watch.close();
      throw err;
    }
  }

  /** Re-reads watched users' recent notifications and delivers the missing ones. Never rejects (a failure is logged). */
  sweep(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#sweeping ??= this.#sweepOnce()
      .catch((err: unknown) => this.#log.warn({ err }, "notification sweep failed; the next one retries"))
      .finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  #unregister(watch: NotificationWatch): void {
    const set = this.#watchers.get(watch.userId);
    set?.delete(watch);
    if (set?.size === 0) this.#watchers.delete(watch.userId);
  }

  #deliver(row: NotificationRow, accept: (watch: NotificationWatch) => boolean): void {
    for (const watch of this.#watchers.get(row.userId) ?? []) if (accept(watch)) watch.offer(row);
  }

  #onSignal(payload: string): void {
    let signal: unknown;
    try {
      signal = JSON.parse(payload);
    } catch {
      signal = undefined;
    }
    if (!isSignal(signal)) {
      this.#log.warn({ payload }, "ignoring a malformed notification_created payload");
      return;
    }
    // Most notifications concern users nobody here is watching: no query.
    if (!this.#watchers.has(signal.userId)) return;
    this.#signalled.push(signal.id);
    this.#fetching ??= this.#fetchSignalled().finally(() => (this.#fetching = undefined));
  }

  /** Fetches signalled notifications by id, a burst of signals in one query. */
  async #fetchSignalled(): Promise<void> {
    while (this.#signalled.length > 0 && !this.#stopped) {
      const ids = this.#signalled;
      this.#signalled = [];
      try {
        const rows = await this.#db
          .select()
          .from(notifications)
          .where(inArray(notifications.id, ids))
          .orderBy(asc(notifications.id));
        for (const row of rows) this.#deliver(row, () => true);
      } catch (err) {
        // The rows exist (the NOTIFY came after their commit): a sweep finds them.
        this.#log.warn({ err, ids }, "cannot fetch signalled notifications; sweeping instead");
        setTimeout(() => void this.sweep(), 1000).unref();
      }
    }
  }

  async #sweepOnce(): Promise<void> {
    const ready = [...this.#watchers.values()].flatMap((set) => [...set]).filter((w) => w.known !== undefined);
    if (ready.length === 0) return;
    const users = [...new Set(ready.map((w) => w.userId))];
    const floor = ready.reduce((min, w) => (w.floor < min ? w.floor : min), ready[0].floor);
    for (let i = 0; i < users.length; i += SWEEP_CHUNK) {
      const rows = await this.#db
        .select()
        .from(notifications)
        .where(and(inArray(notifications.userId, users.slice(i, i + SWEEP_CHUNK)), gte(notifications.id, floor)))
        .orderBy(asc(notifications.id));
      for (const row of rows) this.#deliver(row, (watch) => watch.isMissing(row));
    }
  }
}
