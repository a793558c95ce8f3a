// The runtime's own tables, present in every service database: the
// transactional outbox, the consumer inbox and the dead letters.
//
// Where they come from: the runtime ships its own drizzle-kit migrations
// (./migrations, generated from this file by ./drizzle.config.ts) and
// `migrate()` applies them *before* the service's migrations, with their own
// journal table (drizzle.__runtime_migrations). Chosen over "every service
// re-exports these tables in its schema.ts" because the tables and the code
// that reads them (relay, consumer, dead letters) then always ship and change
// together: a runtime upgrade that alters `outbox` brings its migration along,
// and no service can run new runtime code against a stale table because it
// forgot to re-run drizzle-kit. Service schemas must therefore NOT re-export
// these tables (drizzle-kit would try to create them a second time); they may
// import them to query them (e.g. `db.select().from(deadLetters)`).
import { sql } from "drizzle-orm";
import {
  bigint,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/** Postgres `bytea` as a Uint8Array (protobuf binary). */
export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => "bytea",
  toDriver: (value) => value,
  // postgres.js returns a Buffer (a Uint8Array subclass); normalise so that
  // callers comparing with protobuf output see plain Uint8Arrays.
  fromDriver: (value) => new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
});

/** Message headers as stored: NATS header names to values. */
export type EventHeaders = Record<string, string>;

/**
 * Events written in the same transaction as the state change that caused
 * them, published to JetStream by the OutboxRelay.
 */
export const outbox = pgTable(
  "outbox",
  {
    /** Event id (UUIDv7); also the JetStream `Nats-Msg-Id`. */
    id: uuid("id").primaryKey(),
    /** Insertion order: the relay publishes in this order. */
    seq: bigint("seq", { mode: "number" }).generatedAlwaysAsIdentity().notNull(),
    /** Full NATS subject, e.g. `events.shop.order.v1.OrderPlaced`. */
    subject: text("subject").notNull(),
    /** Protobuf message type name, e.g. `shop.order.v1.OrderPlaced`. */
    eventType: text("event_type").notNull(),
    /** The event, binary protobuf. */
    payload: bytea("payload").notNull(),
    /** Extra message headers, e.g. `traceparent`. */
    headers: jsonb("headers").$type<EventHeaders>().notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** Set once JetStream acknowledged the publish; null = still to send. */
    publishedAt: timestamp("published_at", { withTimezone: true }),
    /** Failed publish attempts (observability only). */
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
  },
  (t) => [
    // The relay's work queue: only unsent rows, in order. Stays tiny.
    index("outbox_unpublished_idx")
      .on(t.seq)
      .where(sql`${t.publishedAt} is null`),
  ],
);

/**
 * Ids of the events each consumer has processed, written in the same
 * transaction as the handler's effects: a redelivered event finds its row and
 * is skipped.
 */
export const inbox = pgTable(
  "inbox",
  {
    /** The event id (`Shop-Event-Id` header, else `Nats-Msg-Id`). */
    messageId: text("message_id").notNull(),
    /** The JetStream durable consumer name, e.g. `inventory-order-placed`. */
    consumer: text("consumer").notNull(),
    subject: text("subject").notNull(),
    processedAt: timestamp("processed_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.consumer] })],
);

/**
 * Events a consumer gave up on after its maximum number of deliveries (or
 * could not even decode). Listed and replayed by an operator.
 */
export const deadLetters = pgTable(
  "dead_letters",
  {
    /** UUIDv7, so ordering by id is ordering by time. */
    id: uuid("id").primaryKey(),
    consumer: text("consumer").notNull(),
    stream: text("stream").notNull(),
    streamSequence: bigint("stream_sequence", { mode: "number" }).notNull(),
    subject: text("subject").notNull(),
    /** Event id the inboxes key on; replays keep it. */
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    headers: jsonb("headers").$type<EventHeaders>().notNull().default({}),
    payload: bytea("payload").notNull(),
    error: text("error").notNull(),
    deliveryCount: integer("delivery_count").notNull(),
    deadLetteredAt: timestamp("dead_lettered_at", { withTimezone: true }).notNull().defaultNow(),
    replayedAt: timestamp("replayed_at", { withTimezone: true }),
    replayCount: integer("replay_count").notNull().default(0),
  },
  (t) => [
    // One row per (consumer, event): parking the same event again (it failed
    // again after a replay, or a crash repeated the parking) updates the row.
    uniqueIndex("dead_letters_consumer_event_idx").on(t.consumer, t.eventId),
    index("dead_letters_consumer_idx").on(t.consumer, t.id),
  ],
);

export type OutboxRow = typeof outbox.$inferSelect;
export type InboxRow = typeof inbox.$inferSelect;
export type DeadLetterRow = typeof deadLetters.$inferSelect;
