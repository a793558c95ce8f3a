// Transactional outbox: an event is a row written in the same transaction as
// the state change that caused it; the OutboxRelay publishes it later.
//
//   await db.transaction(async (tx) => {
//     await tx.insert(orders).values(order);
//     await enqueueEvent(tx, OrderPlacedSchema, { orderId: order.id, ... });
//   });
import { create, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { v7 as uuidv7 } from "uuid";
import { outbox, type EventHeaders } from "../db/schema.ts";
import { defaultEventNaming, type EventNaming } from "./naming.ts";

/** A drizzle Postgres database or transaction (a transaction is a database). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type DbOrTx = PgDatabase<PgQueryResultHKT, any, any>;

/** LISTEN/NOTIFY channel the relay wakes on (NOTIFY is per database). */
export const OUTBOX_CHANNEL = "shop_outbox";

/** Supplies headers for every event enqueued, e.g. the current trace context. */
export type EventHeaderProvider = () => EventHeaders | undefined;

const headerProviders: EventHeaderProvider[] = [];

/**
 * Registers a header provider (tracing registers one that returns
 * `{ traceparent, tracestate }` for the active span). Returns an unregister
 * function.
 */
export function addEventHeaderProvider(provider: EventHeaderProvider): () => void {
  headerProviders.push(provider);
  return () => {
    const i = headerProviders.indexOf(provider);
    if (i >= 0) headerProviders.splice(i, 1);
  };
}

export interface EnqueueOptions {
  /** Extra headers; override providers' headers of the same name. */
  headers?: EventHeaders;
  /** Event id; default a new UUIDv7. */
  eventId?: string;
  /** Default: defaultEventNaming(). */
  naming?: EventNaming;
  /** Default OUTBOX_CHANNEL. */
  channel?: string;
}

/**
 * Writes `message` to the outbox inside the caller's transaction and
 * NOTIFYs the relay (both in one statement) (delivered on commit, dropped on rollback). Returns the
 * event id. `message` may be a message or an init object for `schema`.
 */
export async function enqueueEvent<Desc extends DescMessage>(
  tx: DbOrTx,
  schema: Desc,
  message: MessageShape<Desc> | MessageInitShape<Desc>,
  options: EnqueueOptions = {},
): Promise<string> {
  const typed = isMessage(message, schema)
    ? (message as MessageShape<Desc>)
    : create(schema, message as MessageInitShape<Desc>);
  const naming = options.naming ?? defaultEventNaming();
  const id = options.eventId ?? uuidv7();
  const headers: EventHeaders = {};
  for (const provider of headerProviders) Object.assign(headers, provider() ?? {});
  Object.assign(headers, options.headers ?? {});
  // The row and the NOTIFY in one statement: one round trip per event, not two.
  const insert = tx
    .insert(outbox)
    .values({
      id,
      subject: naming.subject(schema),
      eventType: schema.typeName,
      payload: toBinary(schema, typed),
      headers,
    })
    .returning({ id: outbox.id });
  await tx.execute(
    sql`with inserted as ${insert} select pg_notify(${options.channel ?? OUTBOX_CHANNEL}, '') from inserted`,
  );
  return id;
}

function isMessage(value: unknown, schema: DescMessage): boolean {
  const typeName = (value as { $typeName?: unknown } | null)?.$typeName;
  if (typeName === undefined) return false;
  if (typeName !== schema.typeName) {
    throw new Error(`enqueueEvent: message is a ${JSON.stringify(typeName)}, schema is ${schema.typeName}`);
  }
  return true;
}

/**
 * enqueueEvent bound to a naming (what services receive from the runtime),
 * for the events the service's manifest publishes and no others.
 */
export interface Outbox<Events extends DescMessage = DescMessage> {
  readonly naming: EventNaming;
  enqueue<Desc extends Events>(
    tx: DbOrTx,
    schema: Desc,
    message: MessageShape<Desc> | MessageInitShape<Desc>,
    options?: Omit<EnqueueOptions, "naming" | "channel">,
  ): Promise<string>;
}

export function createOutbox<Events extends DescMessage = DescMessage>(
  options: { naming?: EventNaming; channel?: string } = {},
): Outbox<Events> {
  const naming = options.naming ?? defaultEventNaming();
  return {
    naming,
    enqueue: (tx, schema, message, opts = {}) =>
      enqueueEvent(tx, schema, message, { ...opts, naming, ...(options.channel ? { channel: options.channel } : {}) }),
  };
}
