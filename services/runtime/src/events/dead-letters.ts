// Dead letters: events a consumer gave up on, parked in the consumer's own
// database, listed and replayed by an operator (the DeadLetterService RPC and
// the CLI are thin wrappers over listDeadLetters / replayDeadLetter).
//
// Replay republishes the stored payload and headers to the original subject
// with a new Nats-Msg-Id (`<eventId>:replay:<n>`, so JetStream's duplicate
// window does not drop it) but the same Shop-Event-Id, which is what inboxes
// key on: the consumer that failed processes it, every other consumer of the
// subject has the event in its inbox already and skips it.
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { JetStreamClient } from "@nats-io/jetstream";
import { and, desc, eq, isNull, lt, sql, type SQL } from "drizzle-orm";
import { v7 as uuidv7 } from "uuid";
import { deadLetters, type DeadLetterRow, type EventHeaders } from "../db/schema.ts";
import type { DbOrTx } from "./outbox.ts";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, REPLAY_OF_HEADER } from "./headers.ts";

export type DeadLetter = DeadLetterRow;

export interface ParkDeadLetter {
  consumer: string;
  stream: string;
  streamSequence: number;
  subject: string;
  eventId: string;
  eventType: string;
  headers: EventHeaders;
  payload: Uint8Array;
  error: string;
  deliveryCount: number;
}

/**
 * Writes (or, for an event this consumer parked before, refreshes) a dead
 * letter. Refreshing clears replayed_at: it failed again and needs attention.
 */
export async function parkDeadLetter(db: DbOrTx, letter: ParkDeadLetter): Promise<void> {
  const error = letter.error.slice(0, 8000);
  await db
    .insert(deadLetters)
    .values({ id: uuidv7(), ...letter, error })
    .onConflictDoUpdate({
      target: [deadLetters.consumer, deadLetters.eventId],
      set: {
        stream: letter.stream,
        streamSequence: letter.streamSequence,
        subject: letter.subject,
        headers: letter.headers,
        payload: letter.payload,
        error,
        deliveryCount: letter.deliveryCount,
        deadLetteredAt: sql`now()`,
        replayedAt: null,
      },
    });
}

export interface ListDeadLettersOptions {
  /** Only this JetStream consumer's (e.g. "inventory-order-placed"). */
  consumer?: string;
  /** Page size; default 20, at most 100. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
  /** Only those never replayed since they were (last) parked. */
  pendingOnly?: boolean;
}

export interface DeadLetterPage {
  /** Newest first. */
  deadLetters: DeadLetter[];
  /** Pass as `cursor` for the next page; undefined on the last page. */
  nextCursor?: string;
}

/** Lists dead letters newest first, paged by id (UUIDv7, time-ordered). */
export async function listDeadLetters(db: DbOrTx, options: ListDeadLettersOptions = {}): Promise<DeadLetterPage> {
  const limit = Math.min(100, Math.max(1, options.limit ?? 20));
  const where: SQL[] = [];
  if (options.consumer) where.push(eq(deadLetters.consumer, options.consumer));
  if (options.cursor) where.push(lt(deadLetters.id, options.cursor));
  if (options.pendingOnly) where.push(isNull(deadLetters.replayedAt));
  const rows = await db
    .select()
    .from(deadLetters)
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(desc(deadLetters.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    deadLetters: page,
    ...(rows.length > limit && last ? { nextCursor: last.id } : {}),
  };
}

export class DeadLetterNotFoundError extends Error {
  override name = "DeadLetterNotFoundError";
  constructor(readonly id: string) {
    super(`dead letter ${id} not found`);
  }
}

/**
 * Republishes a dead letter to its original subject (see the top of this
 * file) and marks it replayed. Returns the updated row.
 */
export async function replayDeadLetter(db: DbOrTx, js: JetStreamClient, id: string): Promise<DeadLetter> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id))
    throw new DeadLetterNotFoundError(id);
  return db.transaction(async (tx) => {
    const row = (await tx.select().from(deadLetters).where(eq(deadLetters.id, id)).for("update")).at(0);
    if (!row) throw new DeadLetterNotFoundError(id);
    const n = row.replayCount + 1;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(row.headers)) {
      // Nats-* headers are the server's (Nats-Msg-Id, Nats-Expected-*...).
      if (!/^nats-/i.test(k)) h.set(k, v);
    }
    h.set(EVENT_ID_HEADER, row.eventId);
    h.set(EVENT_TYPE_HEADER, row.eventType);
    h.set(REPLAY_OF_HEADER, row.id);
    await js.publish(row.subject, row.payload, { msgID: `${row.eventId}:replay:${n}`, headers: h });
    const updated = (
      await tx
        .update(deadLetters)
        .set({ replayCount: n, replayedAt: sql`now()` })
        .where(eq(deadLetters.id, id))
        .returning()
    ).at(0);
    // The row is locked FOR UPDATE above, so it is still there.
    if (!updated) throw new DeadLetterNotFoundError(id);
    return updated;
  });
}
