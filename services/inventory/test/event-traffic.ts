// Test-side event traffic for inventory: publishes the upstream saga events
// exactly as the runtime's outbox relay does (binary protobuf, Nats-Msg-Id,
// Shop-Event-Id, Shop-Event-Type), and records everything inventory publishes.
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { ConsumerMessages } from "@nats-io/jetstream";
import {
  StockCommittedSchema,
  StockRejectedSchema,
  StockReleasedSchema,
  StockReservedSchema,
} from "@shop/gen/shop/inventory/v1/events_pb";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER } from "@shop/runtime/events/headers";
import type { EventBus } from "@shop/runtime/events/bus";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentFailedSchema } from "@shop/gen/shop/payment/v1/events_pb";
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

const consumedSchemas = [OrderPlacedSchema, PaymentFailedSchema, OrderCancelledSchema, OrderConfirmedSchema];

/**
 * True when inventory's durable consumers have nothing left to deliver and
 * nothing unacknowledged: every event published so far has been handled
 * (the consumer acks only after the handler's transaction committed).
 */
export async function inventoryCaughtUp(bus: EventBus): Promise<boolean> {
  for (const schema of consumedSchemas) {
    const info = await bus.jsm.consumers.info(bus.naming.stream(schema), bus.naming.consumerName("inventory", schema));
    if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
  }
  return true;
}

const inventorySchemas = [StockReservedSchema, StockRejectedSchema, StockReleasedSchema, StockCommittedSchema] as const;
type InventoryEvent = MessageShape<(typeof inventorySchemas)[number]>;

/** Everything inventory publishes, read from its stream with an ordered consumer. */
export class InventoryEventLog {
  readonly events: InventoryEvent[] = [];
  readonly #messages: ConsumerMessages;
  readonly #reading: Promise<void>;

  private constructor(messages: ConsumerMessages) {
    this.#messages = messages;
    this.#reading = (async () => {
      for await (const msg of messages) {
        const schema = inventorySchemas.find((s) => s.typeName === msg.headers?.get(EVENT_TYPE_HEADER));
        if (schema) this.events.push(fromBinary(schema, msg.data));
      }
    })();
  }

  static async open(bus: EventBus): Promise<InventoryEventLog> {
    // The whole stream, no filter: NATS 2.9 ordered consumers take one subject at most.
    const stream = await bus.ensureStreamFor(StockReservedSchema);
    const consumer = await bus.js.consumers.get(stream);
    return new InventoryEventLog(await consumer.consume());
  }

  /** Events of one type about one order. */
  of<T extends InventoryEvent["$typeName"]>(typeName: T, orderId: string): Extract<InventoryEvent, { $typeName: T }>[] {
    return this.events.filter((e): e is Extract<InventoryEvent, { $typeName: T }> => e.$typeName === typeName && e.orderId === orderId);
  }

  async close(): Promise<void> {
    this.#messages.stop();
    await this.#reading;
  }
}
