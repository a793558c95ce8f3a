// Test-side event traffic for order: publishes inventory's and payment's
// events exactly as the runtime's outbox relay does (binary protobuf,
// Nats-Msg-Id, Shop-Event-Id, Shop-Event-Type), records everything order
// publishes, and tells when order's consumers have handled all they were sent.
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { ConsumerMessages } from "@nats-io/jetstream";
import { v7 as uuidv7 } from "uuid";
import {
  StockCommittedSchema,
  StockRejectedSchema,
  StockReleasedSchema,
  StockReservedSchema,
} from "@shop/gen/shop/inventory/v1/events_pb";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentCapturedSchema, PaymentFailedSchema, PaymentRefundedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import type { EventBus } from "@shop/runtime/events/bus";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER } from "@shop/runtime/events/headers";

export interface PublishOptions {
  /** Default: a new UUIDv7. */
  eventId?: string;
  /** JetStream's de-duplication id; default the event id. A new one gets a repeated event id past JetStream to the inbox. */
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
  await bus.js.publish(bus.naming.subject(schema), toBinary(schema, create(schema, init)), { msgID: options.msgId ?? eventId, headers: h });
  return eventId;
}

const consumedSchemas = [
  StockReservedSchema,
  StockRejectedSchema,
  StockReleasedSchema,
  StockCommittedSchema,
  PaymentCapturedSchema,
  PaymentFailedSchema,
  PaymentRefundedSchema,
];

/** True when order's consumers have nothing left to deliver and nothing unacknowledged. */
export async function orderCaughtUp(bus: EventBus): Promise<boolean> {
  for (const schema of consumedSchemas) {
    const info = await bus.jsm.consumers.info(bus.naming.stream(schema), bus.naming.consumerName("order", schema));
    if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
  }
  return true;
}

const orderSchemas = [OrderPlacedSchema, OrderConfirmedSchema, OrderCancelledSchema] as const;
type OrderEvent = MessageShape<(typeof orderSchemas)[number]>;

/** Everything order publishes, read from its stream with an ordered consumer. */
export class OrderEventLog {
  readonly events: OrderEvent[] = [];
  readonly #messages: ConsumerMessages;
  readonly #reading: Promise<void>;

  private constructor(messages: ConsumerMessages) {
    this.#messages = messages;
    this.#reading = (async () => {
      for await (const msg of messages) {
        const schema = orderSchemas.find((s) => s.typeName === msg.headers?.get(EVENT_TYPE_HEADER));
        if (schema) this.events.push(fromBinary(schema, msg.data));
      }
    })();
  }

  static async open(bus: EventBus): Promise<OrderEventLog> {
    // The whole stream, no filter: NATS 2.9 ordered consumers take one subject at most.
    const stream = await bus.ensureStreamFor(OrderPlacedSchema);
    const consumer = await bus.js.consumers.get(stream);
    return new OrderEventLog(await consumer.consume());
  }

  /** Events of one type about one order. */
  of<T extends OrderEvent["$typeName"]>(typeName: T, orderId: string): Extract<OrderEvent, { $typeName: T }>[] {
    return this.events.filter((e): e is Extract<OrderEvent, { $typeName: T }> => e.$typeName === typeName && e.orderId === orderId);
  }

  async close(): Promise<void> {
    this.#messages.stop();
    await this.#reading;
  }
}
