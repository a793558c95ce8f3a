// The JetStream side: one NATS connection per process, streams and durable
// pull consumers created or updated idempotently at start-up.
import { connect } from "@nats-io/transport-node";
import { nanos, type NatsConnection } from "@nats-io/nats-core";
import {
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import { EventNaming, defaultEventNaming, type EventTypeRef } from "./naming.ts";

/** Minimal structured logger (pino's Logger fits). */
/** Where NATS runs when nobody says otherwise (services pass their validated NATS_URL). */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

export interface EventLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: EventLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface StreamSettings {
  /** JetStream de-duplication window for Nats-Msg-Id; default 2 minutes. */
  duplicateWindowMs?: number;
  /** Drop events older than this; default 0 = keep (limits retention). */
  maxAgeMs?: number;
  /** Default "file". */
  storage?: "file" | "memory";
  /** Default 1. */
  replicas?: number;
}

const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;
const STREAM_NAME_IN_USE = 10058;
const CONSUMER_ALREADY_EXISTS = 10148;

function apiCode(error: unknown): number | undefined {
  return error instanceof JetStreamApiError ? error.code : undefined;
}

export interface EnsureStreamOptions extends StreamSettings {
  name: string;
  /** Subjects the stream must cover; subjects it already has are kept. */
  subjects: string[];
}

/**
 * Creates the stream, or updates it when its subjects, duplicate window or
 * max age differ. Safe to call from every replica at start-up.
 */
export async function ensureStream(jsm: JetStreamManager, options: EnsureStreamOptions): Promise<StreamInfo> {
  const duplicateWindow = nanos(options.duplicateWindowMs ?? 2 * 60_000);
  const maxAge = nanos(options.maxAgeMs ?? 0);
  for (let attempt = 0; ; attempt++) {
    let info: StreamInfo | undefined;
    try {
      info = await jsm.streams.info(options.name);
    } catch (error) {
      if (apiCode(error) !== STREAM_NOT_FOUND) throw error;
    }
    if (!info) {
      try {
        return await jsm.streams.add({
          name: options.name,
          subjects: options.subjects,
          retention: "limits",
          storage: options.storage ?? "file",
          num_replicas: options.replicas ?? 1,
          duplicate_window: duplicateWindow,
          max_age: maxAge,
          discard: "old",
        });
      } catch (error) {
        // Another replica created it first: go round and compare.
        if (apiCode(error) === STREAM_NAME_IN_USE && attempt < 3) continue;
        throw error;
      }
    }
    // The server leaves `subjects` out of the JSON when there are none (omitempty).
    const config: Omit<StreamConfig, "subjects"> & { subjects?: string[] } = info.config;
    const subjects = [...new Set([...(config.subjects ?? []), ...options.subjects])];
    const same =
      subjects.length === (config.subjects ?? []).length &&
      config.duplicate_window === duplicateWindow &&
      config.max_age === maxAge;
    if (same) return info;
    const update: Partial<StreamConfig> = { ...config, subjects, duplicate_window: duplicateWindow, max_age: maxAge };
    return jsm.streams.update(options.name, update);
  }
}

export interface EnsureConsumerOptions {
  /** Durable consumer name. */
  name: string;
  filterSubject: string;
  /** Redelivery delays (ms) after an ack timeout; the server sets ack_wait = backoff[0]. */
  backoffMs: number[];
  /** Used when backoffMs is empty; default 30 s. */
  ackWaitMs?: number;
  /** Server-side bound on deliveries; must exceed backoffMs.length. */
  maxDeliver: number;
  /** Unacked messages in flight for this consumer; default 1000. */
  maxAckPending?: number;
  description?: string;
}

/**
 * Creates the durable pull consumer (explicit ack, deliver all), or updates
 * it when ack_wait, max_deliver, backoff or max_ack_pending differ.
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  options: EnsureConsumerOptions,
): Promise<ConsumerInfo> {
  if (options.backoffMs.length >= options.maxDeliver) {
    throw new Error(
      `consumer ${options.name}: max_deliver (${options.maxDeliver}) must exceed the number of backoff steps (${options.backoffMs.length})`,
    );
  }
  const desired = {
    ack_wait: nanos(options.backoffMs.at(0) ?? options.ackWaitMs ?? 30_000),
    max_deliver: options.maxDeliver,
    backoff: options.backoffMs.length > 0 ? options.backoffMs.map(nanos) : undefined,
    max_ack_pending: options.maxAckPending ?? 1000,
  };
  for (let attempt = 0; ; attempt++) {
    let info: ConsumerInfo | undefined;
    try {
      info = await jsm.consumers.info(stream, options.name);
    } catch (error) {
      if (apiCode(error) !== CONSUMER_NOT_FOUND) throw error;
    }
    if (!info) {
      const config: Partial<ConsumerConfig> = {
        durable_name: options.name,
        filter_subject: options.filterSubject,
        ack_policy: "explicit",
        deliver_policy: "all",
        replay_policy: "instant",
        ...(options.description ? { description: options.description } : {}),
        ...withoutUndefined(desired),
      };
      try {
        return await jsm.consumers.add(stream, config);
      } catch (error) {
        if ((apiCode(error) === CONSUMER_ALREADY_EXISTS || apiCode(error) === 10013) && attempt < 3) continue;
        throw error;
      }
    }
    const c = info.config;
    if (c.filter_subject !== options.filterSubject) {
      // Not updatable on NATS 2.9; names embed the event type, so this means
      // someone reused a name for something else.
      throw new Error(
        `consumer ${stream}/${options.name} filters ${c.filter_subject}, expected ${options.filterSubject}`,
      );
    }
    const same =
      c.ack_wait === desired.ack_wait &&
      c.max_deliver === desired.max_deliver &&
      c.max_ack_pending === desired.max_ack_pending &&
      sameNumbers(c.backoff, desired.backoff);
    if (same) return info;
    return jsm.consumers.update(stream, options.name, withoutUndefined(desired));
  }
}

function sameNumbers(a: number[] | undefined, b: number[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export interface EventBusOptions {
  /** NATS servers; default NATS_URL, else nats://127.0.0.1:4222. Ignored with `nc`. */
  servers?: string | string[];
  /** Use an existing connection (not closed by close()). */
  nc?: NatsConnection;
  /** Connection name shown by the server, e.g. the service name. */
  name?: string;
  /** Default: defaultEventNaming(). */
  naming?: EventNaming;
  stream?: StreamSettings;
  logger?: EventLogger;
}

/** A NATS connection with JetStream, the naming, and stream set-up. */
export class EventBus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly naming: EventNaming;
  readonly logger: EventLogger;
  readonly #streamSettings: StreamSettings;
  readonly #ownsConnection: boolean;
  readonly #ensured = new Map<string, Promise<string>>();

  private constructor(nc: NatsConnection, jsm: JetStreamManager, owns: boolean, options: EventBusOptions) {
    this.nc = nc;
    this.js = jetstream(nc);
    this.jsm = jsm;
    this.naming = options.naming ?? defaultEventNaming();
    this.logger = options.logger ?? silentLogger;
    this.#streamSettings = options.stream ?? {};
    this.#ownsConnection = owns;
  }

  static async connect(options: EventBusOptions = {}): Promise<EventBus> {
    const owns = !options.nc;
    const nc =
      options.nc ??
      (await connect({
        servers: options.servers ?? DEFAULT_NATS_URL,
        ...(options.name ? { name: options.name } : {}),
        maxReconnectAttempts: -1,
      }));
    try {
      const jsm = await jetstreamManager(nc);
      return new EventBus(nc, jsm, owns, options);
    } catch (error) {
      if (owns) await nc.close();
      throw error;
    }
  }

  /**
   * Makes sure the stream for an event type exists and covers its subjects
   * (once per process and stream); returns the stream name.
   */
  ensureStreamFor(type: EventTypeRef): Promise<string> {
    const name = this.naming.stream(type);
    const subject = this.naming.streamSubject(type);
    const key = `${name} ${subject}`;
    let pending = this.#ensured.get(key);
    if (!pending) {
      pending = ensureStream(this.jsm, { name, subjects: [subject], ...this.#streamSettings }).then(() => name);
      pending.catch(() => this.#ensured.delete(key));
      this.#ensured.set(key, pending);
    }
    return pending;
  }

  /** Forgets that a type's stream was ensured (after a publish to it failed). */
  forgetStreamFor(type: EventTypeRef): void {
    this.#ensured.delete(`${this.naming.stream(type)} ${this.naming.streamSubject(type)}`);
  }

  /** Drains and closes the connection if this bus opened it. */
  async close(): Promise<void> {
    if (this.#ownsConnection && !this.nc.isClosed()) await this.nc.drain();
  }
}
