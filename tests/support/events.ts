// Event traffic for service tests: publish upstream events exactly as the
// runtime's outbox relay does (binary protobuf; Nats-Msg-Id, Shop-Event-Id and
// Shop-Event-Type headers), tell when a service's consumers have handled
// everything, and record what a service published to its stream.
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import type { ConsumerMessages } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { EventBus } from "@shop/runtime/events/bus";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER } from "@shop/runtime/events/headers";
import { v7 as uuidv7 } from "uuid";

export interface PublishOptions {
  /** Default: a new UUIDv7. */
  eventId?: string;
  /**
   * JetStream's de-duplication id; default the event id, as the relay does.
   * A different one gets a repeated event id past JetStream to the inbox.
   */
  msgId?: string;
}

/** Publishes one event as an upstream service's relay would; returns its event id. */
export async function publishEvent<Desc extends DescMessage>(
  bus: EventBus,
  schema: Desc,
  init: MessageInitShape<Desc>,
  options: PublishOptions = {},
): Promise<string> {
  const eventId = options.eventId ?? uuidv7();
  const h = natsHeaders();
  h.set(EVENT_ID_HEADER, eventId);
  h.set(EVENT_TYPE_HEADER, schema.typeName);
  await bus.ensureStreamFor(schema);
  await bus.js.publish(bus.naming.subject(schema), toBinary(schema, create(schema, init)), {
    msgID: options.msgId ?? eventId,
    headers: h,
  });
  return eventId;
}

/**
 * True when the durable consumers of `durable` (e.g. "inventory") for these
 * event types have nothing left to deliver and nothing unacknowledged: every
 * event published so far has been handled (acks come only after the
 * handler's transaction committed).
 */
export async function consumersCaughtUp(
  bus: EventBus,
  durable: string,
  schemas: readonly DescMessage[],
): Promise<boolean> {
  for (const schema of schemas) {
    const info = await bus.jsm.consumers.info(bus.naming.stream(schema), bus.naming.consumerName(durable, schema));
    if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
  }
  return true;
}

type EventOf<S extends readonly DescMessage[]> = MessageShape<S[number]> & { orderId: string };

/**
 * Everything published to the stream of `schemas` (one domain's events), read
 * with an ordered consumer over the whole stream: NATS 2.9 ordered consumers
 * take at most one subject filter.
 */
export class EventLog<const S extends readonly DescMessage[]> {
  readonly events: EventOf<S>[] = [];
  #received = 0;
  readonly #bus: EventBus;
  readonly #stream: string;
  readonly #messages: ConsumerMessages;
  readonly #reading: Promise<void>;

  private constructor(bus: EventBus, stream: string, schemas: S, messages: ConsumerMessages) {
    this.#bus = bus;
    this.#stream = stream;
    this.#messages = messages;
    this.#reading = (async () => {
      for await (const msg of messages) {
        this.#received++;
        const schema = schemas.find((s) => s.typeName === msg.headers?.get(EVENT_TYPE_HEADER));
        if (schema) this.events.push(fromBinary(schema, msg.data) as EventOf<S>);
      }
    })();
  }

  static async open<const S extends readonly DescMessage[]>(bus: EventBus, schemas: S): Promise<EventLog<S>> {
    const stream = await bus.ensureStreamFor(schemas[0]);
    const consumer = await bus.js.consumers.get(stream);
    return new EventLog(bus, stream, schemas, await consumer.consume());
  }

  /** Whether every message now in the stream has been read. */
  async upToDate(): Promise<boolean> {
    const info = await this.#bus.jsm.streams.info(this.#stream);
    return this.#received >= info.state.messages;
  }

  /** Events of one type about one order. */
  of<T extends EventOf<S>["$typeName"]>(typeName: T, orderId: string): Extract<EventOf<S>, { $typeName: T }>[] {
    return this.events.filter(
      (e): e is Extract<EventOf<S>, { $typeName: T }> => e.$typeName === typeName && e.orderId === orderId,
    );
  }

  /** All events about one order, in publication order. */
  about(orderId: string): EventOf<S>[] {
    return this.events.filter((e) => e.orderId === orderId);
  }

  async close(): Promise<void> {
    this.#messages.stop();
    await this.#reading;
  }
}
