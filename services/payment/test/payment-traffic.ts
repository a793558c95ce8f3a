// Test-side event traffic for payment: publishes upstream saga events exactly
// as the runtime's outbox relay does (binary protobuf, Nats-Msg-Id,
// Shop-Event-Id, Shop-Event-Type), and records everything payment publishes
// from its JetStream stream, i.e. what really left the outbox.
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { ConsumerMessages } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { StockReservedSchema } from "@shop/gen/shop/inventory/v1/events_pb";
import { OrderCancelledSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentCapturedSchema, PaymentFailedSchema, PaymentRefundedSchema } from "@shop/gen/shop/payment/v1/events_pb";
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

/** Publishes one event; returns its event id. */
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
 * True when payment's consumers have nothing left to deliver and nothing
 * unacknowledged: every event published so far has been handled (the
 * consumer acks only after the handler's transaction committed).
 */
export async function paymentCaughtUp(bus: EventBus): Promise<boolean> {
  for (const schema of [StockReservedSchema, OrderCancelledSchema]) {
    const info = await bus.jsm.consumers.info(bus.naming.stream(schema), bus.naming.consumerName("payment", schema));
    if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
  }
  return true;
}

const paymentSchemas = [PaymentCapturedSchema, PaymentFailedSchema, PaymentRefundedSchema] as const;
type PaymentEvent = MessageShape<(typeof paymentSchemas)[number]>;

/** Everything payment publishes, read from its stream with an ordered consumer. */
export class PaymentEventLog {
  readonly events: PaymentEvent[] = [];
  #received = 0;
  readonly #stream: string;
  readonly #bus: EventBus;
  readonly #messages: ConsumerMessages;
  readonly #reading: Promise<void>;

  private constructor(bus: EventBus, stream: string, messages: ConsumerMessages) {
    this.#bus = bus;
    this.#stream = stream;
    this.#messages = messages;
    this.#reading = (async () => {
      for await (const msg of messages) {
        this.#received++;
        const schema = paymentSchemas.find((s) => s.typeName === msg.headers?.get(EVENT_TYPE_HEADER));
        if (schema) this.events.push(fromBinary(schema, msg.data));
      }
    })();
  }

  static async open(bus: EventBus): Promise<PaymentEventLog> {
    // The whole stream, no filter: NATS 2.9 ordered consumers take one subject at most.
    const stream = await bus.ensureStreamFor(PaymentCapturedSchema);
    const consumer = await bus.js.consumers.get(stream);
    return new PaymentEventLog(bus, stream, await consumer.consume());
  }

  /** Whether every message now in the stream has been read. */
  async upToDate(): Promise<boolean> {
    const info = await this.#bus.jsm.streams.info(this.#stream);
    return this.#received >= info.state.messages;
  }

  /** Events of one type about one order. */
  of<T extends PaymentEvent["$typeName"]>(typeName: T, orderId: string): Extract<PaymentEvent, { $typeName: T }>[] {
    return this.events.filter((e): e is Extract<PaymentEvent, { $typeName: T }> => e.$typeName === typeName && e.orderId === orderId);
  }

  /** All events about one order, in publication order. */
  about(orderId: string): PaymentEvent[] {
    return this.events.filter((e) => e.orderId === orderId);
  }

  async close(): Promise<void> {
    this.#messages.stop();
    await this.#reading;
  }
}
