// WatchCatalogChanges (see the contract): the catalog's own ProductCreated
// and PriceChanged events, as its outbox relay publishes them, passed on to
// the streams the gateway keeps open for its read cache.
//
// Fed by a plain NATS subscription to the events' subjects, not by the
// replica's own relay: every JetStream publish is also delivered to core
// subscribers of its subject, so each catalog replica sees the changes of
// all of them, and an event reaches the stream only after the relay
// published it, i.e. after the change was committed. A core subscription is
// not durable: while this replica's NATS connection is down (or NATS drops
// messages for a slow subscriber) changes are missed, so every open stream
// ends with Unavailable then and new ones are refused until the connection
// is back; a gateway whose stream is down does not trust its cache.
import type { DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EventBus } from "@shop/runtime/events/bus";
import type { Logger } from "@shop/runtime/log";

export interface CatalogChangeEvent {
  productId: string;
  eventType: string;
}

/** Reads the product id out of an event's payload (the events differ). */
export type ProductIdOf = (payload: Uint8Array) => string;

interface Watcher {
  push(change: CatalogChangeEvent): void;
  fail(err: ConnectError): void;
}

/** Changes waiting for one slow watcher before its stream is ended. */
const MAX_QUEUED = 10_000;
const BEHIND = "the watcher fell too far behind the catalog's changes: watch again";
const LOST = "the catalog lost its connection to the event bus and may have missed changes: watch again";

export class CatalogChangeFeed {
  readonly #bus: EventBus;
  readonly #logger: Logger;
  readonly #events: ReadonlyMap<string, { type: DescMessage; productIdOf: ProductIdOf }>;
  readonly #watchers = new Set<Watcher>();
  #subscriptions: ReturnType<EventBus["nc"]["subscribe"]>[] = [];
  #connected = true;
  #stopped = false;

  constructor(bus: EventBus, events: readonly { type: DescMessage; productIdOf: ProductIdOf }[], logger: Logger) {
    this.#bus = bus;
    this.#logger = logger;
    this.#events = new Map(events.map((e) => [bus.naming.subject(e.type), e]));
  }

  /** Subscribes to the events and follows the connection's status. */
  start(): void {
    for (const [subject, { type, productIdOf }] of this.#events) {
      this.#subscriptions.push(
        this.#bus.nc.subscribe(subject, {
          callback: (err, msg) => {
            if (err) {
              this.#lose(`subscription to ${subject} failed`, err);
              return;
            }
            let productId: string;
            try {
              productId = productIdOf(msg.data);
            } catch (decodeErr) {
              // Not ours to judge (consumers park poison messages); nothing to invalidate by.
              this.#logger.warn({ err: decodeErr, subject }, "undecodable catalog event ignored by the change feed");
              return;
            }
            for (const w of this.#watchers) w.push({ productId, eventType: type.typeName });
          },
        }),
      );
    }
    void this.#followStatus();
  }

  async #followStatus(): Promise<void> {
    for await (const status of this.#bus.nc.status()) {
      if (this.#stopped) return;
      if (status.type === "disconnect") {
        this.#lose("NATS disconnected", undefined, true);
      } else if (status.type === "slowConsumer") {
        this.#lose("NATS dropped messages for a slow subscriber");
      } else if (status.type === "reconnect") {
        this.#connected = true;
        this.#logger.info("catalog change feed live again");
      }
    }
  }

  /** Ends every open stream: changes may have been missed. `disconnected`: refuse new ones until reconnected. */
  #lose(why: string, err?: unknown, disconnected = false): void {
    if (disconnected) this.#connected = false;
    this.#logger.warn({ err, watchers: this.#watchers.size }, `catalog change feed interrupted: ${why}`);
    const lost = new ConnectError(LOST, Code.Unavailable);
    for (const w of [...this.#watchers]) w.fail(lost);
  }

  /**
   * The stream of one watcher: `"live"` once its subscription is known to be
   * in place at the server, then the changes. Throws Unavailable (at once,
   * or when the connection drops) if changes could be missed.
   */
  async *watch(signal: AbortSignal): AsyncGenerator<"live" | CatalogChangeEvent> {
    if (this.#stopped || !this.#connected) throw new ConnectError(LOST, Code.Unavailable);
    const queue: CatalogChangeEvent[] = [];
    let failure: ConnectError | undefined;
    let wake: (() => void) | undefined;
    const watcher: Watcher = {
      push(change) {
        // A watcher that stopped reading: end its stream rather than queue without bound.
        if (queue.length >= MAX_QUEUED) failure ??= new ConnectError(BEHIND, Code.Unavailable);
        else queue.push(change);
        wake?.();
      },
      fail(err) {
        failure = err;
        wake?.();
      },
    };
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    this.#watchers.add(watcher);
    try {
      // A round trip to the server: the subscriptions made before it are in
      // place there, so nothing published from now on is missed.
      await this.#bus.nc.flush();
      yield "live";
      for (;;) {
        if (failure) throw failure;
        if (signal.aborted) return;
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.#watchers.delete(watcher);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Ends every stream (Unavailable, so gateways watch another replica) and unsubscribes. */
  stop(): void {
    this.#stopped = true;
    this.#connected = false;
    const ending = new ConnectError("the catalog is shutting down: watch again", Code.Unavailable);
    for (const w of [...this.#watchers]) w.fail(ending);
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions = [];
  }
}
