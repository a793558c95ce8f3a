// EventConsumer: idempotent, transactional event handlers on durable
// JetStream pull consumers.
//
//   const consumer = new EventConsumer({ db, bus });
//   consumer.consume({
//     durable: "inventory",
//     events: [OrderPlacedSchema, PaymentFailedSchema],
//     handle: async (tx, event, meta) => {
//       switch (event.$typeName) {
//         case "shop.order.v1.OrderPlaced": ...; break;
//         case "shop.payment.v1.PaymentFailed": ...; break;
//       }
//     },
//   });
//   await consumer.start();
//
// Per message: decode by the Shop-Event-Type header; in one DB transaction
// insert (event id, consumer) into `inbox` (ON CONFLICT DO NOTHING) and, only
// if that inserted a row, run the handler; commit; then ack. A redelivery of
// something already committed (crash before the ack, a duplicate publish, a
// replay) finds its inbox row and is acked without effects. A handler error
// naks with a backoff delay; on the last allowed delivery the message goes to
// `dead_letters` and is terminated, so later messages keep flowing.
//
// NATS 2.9 allows one filter subject per consumer, so every (durable, event
// type) pair is its own JetStream durable, named e.g. "inventory-order-placed";
// that name is also the inbox's and dead letters' `consumer`.
import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { inbox, type EventHeaders } from "../db/schema.ts";
import type { Database, Transaction } from "../db/database.ts";
import { ensureConsumer, type EventBus, type EventLogger } from "./bus.ts";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, MSG_ID_HEADER, REPLAY_OF_HEADER } from "./headers.ts";
import { parkDeadLetter } from "./dead-letters.ts";
import { withoutQueryParameters } from "../log-redaction.ts";

export interface EventMeta {
  /** The event id the inbox keys on. */
  eventId: string;
  /** e.g. "shop.order.v1.OrderPlaced". */
  eventType: string;
  subject: string;
  /** JetStream durable name, e.g. "inventory-order-placed". */
  consumer: string;
  stream: string;
  streamSequence: number;
  /** 1 on the first delivery. */
  deliveryCount: number;
  /** All message headers (first value of each), e.g. traceparent. */
  headers: EventHeaders;
  /** When JetStream stored the message. */
  timestamp: Date;
  /** Set when this delivery is a dead-letter replay. */
  replayOf?: string;
}

export interface SubscriptionOptions {
  /**
   * Deliveries before a failing message is dead-lettered; default 5. The
   * server-side max_deliver is this plus DEAD_LETTER_GRACE, so that a failure
   * to write the dead letter (or a crash during the last attempt) gets more
   * deliveries in which to park it instead of JetStream silently giving up.
   */
  maxDeliver?: number;
  /**
   * Delay (ms) before redelivery after the n-th failed delivery (last value
   * repeats); also the consumer's server-side `backoff`, i.e. the redelivery
   * delays after an ack timeout (a crashed process). The server's ack_wait is
   * backoffMs[0]; handlers running longer keep their message alive with
   * in-progress acks. Default [1s, 5s, 15s, 30s].
   */
  backoffMs?: number[];
  /** Messages handled at once per JetStream consumer; default 1 (in order). */
  concurrency?: number;
  /**
   * Messages one pull asks for; default 8 × concurrency. Each pull costs a
   * subscription and a request, so asking for one message at a time doubles
   * the NATS traffic per event; the ones waiting for a free handler get
   * in-progress acks like those being handled, so their ack timers never fire.
   */
  pullBatch?: number;
  /** How long one pull waits for messages; default 5000 ms (also bounds stop()). */
  pullExpiresMs?: number;
}

export interface Subscription<
  TSchema extends Record<string, unknown>,
  S extends readonly DescMessage[],
> extends SubscriptionOptions {
  /** Service-level name, e.g. "inventory"; JetStream names derive from it. */
  durable: string;
  /** Event types to receive. */
  events: S;
  /** Runs inside the inbox transaction; throw to retry later. */
  handle: (tx: Transaction<TSchema>, event: MessageShape<S[number]>, meta: EventMeta) => Promise<void>;
}

/** Identity function that infers a subscription's types (for a service's `subscriptions`). */
export function subscription<TSchema extends Record<string, unknown>, const S extends readonly DescMessage[]>(
  sub: Subscription<TSchema, S>,
): Subscription<TSchema, S> {
  return sub;
}

export type Outcome = "processed" | "duplicate" | "retry" | "dead-lettered";

export interface EventConsumerOptions<TSchema extends Record<string, unknown>> {
  db: Database<TSchema>;
  bus: EventBus;
  logger?: EventLogger;
  /** Defaults for every subscription. */
  defaults?: SubscriptionOptions;
  /** Wraps the handling of each message (tracing spans, metrics). */
  around?: (meta: EventMeta, run: () => Promise<Outcome>) => Promise<Outcome>;
  /**
   * Called after the transaction committed (or the dead letter was written)
   * and before the ack/nak/term. Metrics, and the fault-injection point the
   * crash tests use to SIGKILL the process between commit and ack.
   */
  beforeAck?: (meta: EventMeta, outcome: Outcome) => void | Promise<void>;
}

export const DEAD_LETTER_GRACE = 2;
const DEFAULT_BACKOFF_MS = [1000, 5000, 15_000, 30_000];

/** Thrown inside the transaction to dead-letter without running the handler. */
class Exhausted extends Error {}

interface Route {
  name: string;
  stream: string;
  subject: string;
  schema: DescMessage;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  sub: Subscription<any, readonly DescMessage[]>;
  maxDeliver: number;
  backoffMs: number[];
  concurrency: number;
  pullBatch: number;
  pullExpiresMs: number;
  fetch?: ConsumerMessages;
}

export class EventConsumer<TSchema extends Record<string, unknown> = Record<string, unknown>> {
  readonly #db: Database<TSchema>;
  readonly #bus: EventBus;
  readonly #log: EventLogger;
  readonly #opts: EventConsumerOptions<TSchema>;
  readonly #routes: Route[] = [];
  readonly #loops: Promise<void>[] = [];
  #started = false;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(options: EventConsumerOptions<TSchema>) {
    this.#db = options.db;
    this.#bus = options.bus;
    this.#log = options.logger ?? options.bus.logger;
    this.#opts = options;
  }

  /** Registers a subscription (before start()). */
  consume<const S extends readonly DescMessage[]>(sub: Subscription<TSchema, S>): this {
    if (this.#started) throw new Error("EventConsumer: consume() after start()");
    const d = this.#opts.defaults ?? {};
    const naming = this.#bus.naming;
    for (const schema of sub.events) {
      const name = naming.consumerName(sub.durable, schema);
      const concurrency = Math.max(1, sub.concurrency ?? d.concurrency ?? 1);
      if (this.#routes.some((r) => r.name === name)) throw new Error(`EventConsumer: duplicate consumer ${name}`);
      this.#routes.push({
        name,
        stream: naming.stream(schema),
        subject: naming.subject(schema),
        schema,
        sub,
        maxDeliver: sub.maxDeliver ?? d.maxDeliver ?? 5,
        backoffMs: sub.backoffMs ?? d.backoffMs ?? DEFAULT_BACKOFF_MS,
        concurrency,
        pullBatch: Math.max(concurrency, sub.pullBatch ?? d.pullBatch ?? concurrency * 8),
        pullExpiresMs: Math.max(1000, sub.pullExpiresMs ?? d.pullExpiresMs ?? 5000),
      });
    }
    return this;
  }

  /** JetStream consumer names, e.g. for metrics or the dead-letter API. */
  get consumerNames(): string[] {
    return this.#routes.map((r) => r.name);
  }

  /** Each JetStream consumer with its stream (lag metrics read their info). */
  get jetStreamConsumers(): { stream: string; name: string }[] {
    return this.#routes.map((r) => ({ stream: r.stream, name: r.name }));
  }

  /** Creates/updates streams and durable consumers, then starts pulling. */
  async start(): Promise<void> {
    if (this.#started) throw new Error("EventConsumer already started");
    this.#started = true;
    for (const route of this.#routes) {
      await this.#bus.ensureStreamFor(route.schema);
      await ensureConsumer(this.#bus.jsm, route.stream, {
        name: route.name,
        filterSubject: route.subject,
        backoffMs: route.backoffMs,
        maxDeliver: route.maxDeliver + DEAD_LETTER_GRACE,
        maxAckPending: Math.max(1000, route.concurrency * 10),
        description: `${route.sub.durable}: ${route.schema.typeName}`,
      });
    }
    for (const route of this.#routes) this.#loops.push(this.#run(route));
  }

  /** Stops pulling, lets in-flight messages finish (and ack), then resolves. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#wake?.();
    await Promise.all(this.#routes.map(async (r) => r.fetch?.close().catch(() => {})));
    await Promise.all(this.#loops);
  }

  /** Read through a call: stop() sets the flag while #run awaits, which TypeScript's narrowing cannot see. */
  #stopRequested(): boolean {
    return this.#stopping;
  }

  async #run(route: Route): Promise<void> {
    let failures = 0;
    while (!this.#stopRequested()) {
      try {
        const consumer = await this.#bus.js.consumers.get(route.stream, route.name);
        while (!this.#stopRequested()) {
          const batch = await consumer.fetch({ max_messages: route.pullBatch, expires: route.pullExpiresMs });
          route.fetch = batch;
          // Up to `concurrency` workers take arrived messages in arrival order
          // (with one, strictly in order); each message is kept alive from
          // its arrival, so none sits unattended while its ack timer runs.
          const waiting: Arrived[] = [];
          const workers: Promise<void>[] = [];
          let active = 0;
          const work = async () => {
            active++;
            try {
              for (let next = waiting.shift(); next; next = waiting.shift()) await this.#handle(route, next);
            } finally {
              active--;
            }
          };
          try {
            for await (const msg of batch) {
              if (this.#stopRequested()) {
                msg.nak();
                continue;
              }
              waiting.push({ msg, beat: keepAlive(route, msg) });
              if (active < route.concurrency) workers.push(work());
            }
          } finally {
            // However the pull ended, what arrived is finished first. Should a
            // handler have failed outright, the messages it left are no longer
            // kept alive: JetStream redelivers them once their ack wait is up.
            route.fetch = undefined;
            for (const result of await Promise.allSettled(workers)) {
              if (result.status === "rejected") {
                this.#log.error({ err: result.reason as unknown, consumer: route.name }, "event handler loop failed");
              }
            }
            for (const left of waiting.splice(0)) clearInterval(left.beat);
          }
          failures = 0;
        }
      } catch (error) {
        if (this.#stopRequested()) break;
        failures++;
        this.#log.error({ err: error, consumer: route.name }, "event consumer pull failed; retrying");
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(30_000, 500 * 2 ** Math.min(failures, 6)));
          this.#wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    }
  }

  /** Never throws: whatever happens, the message is acked, nak'ed or terminated, and its keep-alive stops. */
  async #handle(route: Route, { msg, beat }: Arrived): Promise<void> {
    let meta: EventMeta | undefined;
    try {
      if (this.#stopRequested()) {
        // Not started yet: let another replica (or this one, restarted) have it now.
        msg.nak();
        return;
      }
      const current = metaOf(route, msg, this.#bus.naming);
      meta = current;
      const run = () => this.#process(route, msg, current);
      const outcome = this.#opts.around ? await this.#opts.around(current, run) : await run();
      await this.#opts.beforeAck?.(current, outcome);
      if (outcome === "retry") {
        const i = Math.min(current.deliveryCount - 1, route.backoffMs.length - 1);
        msg.nak(route.backoffMs[Math.max(0, i)] ?? 1000);
      } else if (outcome === "dead-lettered") {
        msg.term();
      } else {
        msg.ack();
      }
    } catch (error) {
      // Only hooks (or a connection closed under the ack) get here; redeliver.
      this.#log.error({ err: error, consumer: route.name, eventId: meta?.eventId }, "event handling failed");
      try {
        msg.nak(route.backoffMs[0] ?? 1000);
      } catch {
        // The connection is gone: JetStream redelivers after the ack wait.
      }
    } finally {
      clearInterval(beat);
    }
  }

  async #process(route: Route, msg: JsMsg, meta: EventMeta): Promise<Outcome> {
    // Permanent problems: retrying cannot help, park at once.
    let event: unknown;
    let permanent: string | undefined;
    if (!meta.eventId) permanent = "message has no event id header";
    else if (meta.eventType !== route.schema.typeName) {
      permanent = `unexpected event type ${JSON.stringify(meta.eventType)} (consumer expects ${route.schema.typeName})`;
    } else {
      try {
        event = fromBinary(route.schema, msg.data);
      } catch (error) {
        permanent = `cannot decode ${route.schema.typeName}: ${String(error)}`;
      }
    }
    if (permanent !== undefined) return this.#deadLetter(route, msg, meta, permanent);

    try {
      return await this.#db.transaction(async (tx) => {
        const fresh = await tx
          .insert(inbox)
          .values({ messageId: meta.eventId, consumer: route.name, subject: meta.subject })
          .onConflictDoNothing()
          .returning({ id: inbox.messageId });
        if (fresh.length === 0) return "duplicate" as const;
        if (meta.deliveryCount > route.maxDeliver) {
          // Earlier attempts ran out without parking it (crashes, or parking
          // failed): park it now rather than let JetStream drop it.
          throw new Exhausted(`gave up after ${meta.deliveryCount - 1} deliveries without a recorded outcome`);
        }
        await route.sub.handle(tx, event as never, meta);
        return "processed" as const;
      });
    } catch (error) {
      // Without drizzle's "params: ..." line: bound values (tokens, hashes)
      // belong neither in the dead-letter table nor in the log.
      const text = withoutQueryParameters(error instanceof Error ? (error.stack ?? error.message) : String(error));
      if (error instanceof Exhausted || meta.deliveryCount >= route.maxDeliver) {
        return this.#deadLetter(route, msg, meta, text);
      }
      this.#log.warn(
        { err: error, consumer: route.name, eventId: meta.eventId, delivery: meta.deliveryCount },
        "event handler failed; will retry",
      );
      return "retry";
    }
  }

  async #deadLetter(route: Route, msg: JsMsg, meta: EventMeta, error: string): Promise<Outcome> {
    try {
      await parkDeadLetter(this.#db, {
        consumer: route.name,
        stream: meta.stream,
        streamSequence: meta.streamSequence,
        subject: meta.subject,
        eventId: meta.eventId || `${meta.stream}:${meta.streamSequence}`,
        eventType: meta.eventType,
        headers: meta.headers,
        payload: msg.data,
        error,
        deliveryCount: meta.deliveryCount,
      });
      this.#log.error(
        { consumer: route.name, eventId: meta.eventId, eventType: meta.eventType, delivery: meta.deliveryCount, error },
        "event dead-lettered",
      );
      return "dead-lettered";
    } catch (parkError) {
      this.#log.error(
        { err: parkError, consumer: route.name, eventId: meta.eventId },
        "cannot write dead letter; will retry",
      );
      return "retry";
    }
  }
}

/** A pulled message waiting for (or in) its handler, with its in-progress acks running. */
interface Arrived {
  msg: JsMsg;
  beat: NodeJS.Timeout;
}

/** Keeps the ack timer (backoff[0]) from firing until the handling ends and clears it. */
function keepAlive(route: Route, msg: JsMsg): NodeJS.Timeout {
  return setInterval(() => msg.working(), Math.max(100, Math.floor((route.backoffMs[0] ?? 30_000) / 3)));
}

function metaOf(route: Route, msg: JsMsg, naming: EventBus["naming"]): EventMeta {
  const headers = headersOf(msg);
  return {
    eventId: headers[EVENT_ID_HEADER] || headers[MSG_ID_HEADER] || "",
    eventType: headers[EVENT_TYPE_HEADER] || naming.typeNameFromSubject(msg.subject) || "",
    subject: msg.subject,
    consumer: route.name,
    stream: msg.info.stream,
    streamSequence: msg.info.streamSequence,
    deliveryCount: msg.info.deliveryCount,
    headers,
    timestamp: new Date(Math.floor(msg.info.timestampNanos / 1e6)),
    ...(headers[REPLAY_OF_HEADER] ? { replayOf: headers[REPLAY_OF_HEADER] } : {}),
  };
}

function headersOf(msg: JsMsg): EventHeaders {
  const out: EventHeaders = {};
  const h = msg.headers;
  if (!h) return out;
  for (const key of h.keys()) out[key] = h.get(key);
  return out;
}
