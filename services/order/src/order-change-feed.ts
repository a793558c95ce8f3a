// Change notification for WatchOrder: every transaction that changes an order
// runs `NOTIFY order_changed, '<order id>'` (in the statement that adds its
// timeline entry, see recordTimeline; delivered on commit, dropped on
// rollback); each process holds one LISTEN (postgres.js shares one connection
// for all its listens) and fans the notifications out to the watchers of that
// order. Notifications can be missed (the LISTEN connection reconnecting), so
// watchers also poll slowly; on every (re)connect all watchers are woken to
// re-read.
import type { Sql } from "@shop/runtime/db/database";

export const ORDER_CHANGED_CHANNEL = "order_changed";

export class OrderChangeFeed {
  readonly #watchers = new Map<string, Set<() => void>>();
  #unlisten: (() => Promise<void>) | undefined;

  constructor(private readonly client: Sql) {}

  /** Resolves once LISTEN is active. */
  async start(): Promise<void> {
    const listening = await this.client.listen(
      ORDER_CHANGED_CHANNEL,
      (orderId) => this.#wake(orderId),
      // (Re)connected: anything notified while the connection was down is lost.
      () => this.#wakeAll(),
    );
    this.#unlisten = () => listening.unlisten();
  }

  async stop(): Promise<void> {
    await this.#unlisten?.().catch(() => {});
    this.#unlisten = undefined;
    this.#wakeAll();
  }

  /** Calls `onChange` whenever `orderId` may have changed; returns the unsubscribe function. */
  subscribe(orderId: string, onChange: () => void): () => void {
    const key = orderId.toLowerCase();
    let set = this.#watchers.get(key);
    if (!set) this.#watchers.set(key, (set = new Set()));
    set.add(onChange);
    return () => {
      set.delete(onChange);
      if (set.size === 0 && this.#watchers.get(key) === set) this.#watchers.delete(key);
    };
  }

  #wake(orderId: string): void {
    for (const onChange of this.#watchers.get(orderId.toLowerCase()) ?? []) onChange();
  }

  #wakeAll(): void {
    for (const set of this.#watchers.values()) for (const onChange of set) onChange();
  }
}
