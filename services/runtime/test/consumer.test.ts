// EventConsumer against real Postgres and JetStream: crash between commit and
// ack, duplicates, poison messages, dead letters and their replay.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StringValueSchema, timestampNow } from "@bufbuild/protobuf/wkt";
import { OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentFailedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { and, eq, sql } from "drizzle-orm";
import { deadLetters, inbox } from "../src/db/index.ts";
import {
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
  EventConsumer,
  OutboxRelay,
  enqueueEvent,
  DeadLetterNotFoundError,
  ensureConsumer,
  ensureStream,
  listDeadLetters,
  replayDeadLetter,
  subscription,
  type EventBus,
  type EventMeta,
  type EventNaming,
  type Outcome,
} from "../src/events/index.ts";
import {
  NATS_URL,
  consumerIdle,
  countEffects,
  createTestBus,
  createTestDatabase,
  runFixture,
  waitFor,
  type TestDatabase,
} from "./helpers.ts";
import { effects } from "./fixtures/schema.ts";

let db: TestDatabase;
let url: string;
let bus: EventBus;
let naming: EventNaming;
let relay: OutboxRelay;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  const d = await createTestDatabase();
  db = d.db;
  url = d.url;
  const b = await createTestBus();
  bus = b.bus;
  naming = b.naming;
  cleanup.push(b.close, d.drop);
  relay = new OutboxRelay({ db, bus, pollIntervalMs: 200 });
  await relay.start();
});

afterAll(async () => {
  await relay.stop();
  for (const f of cleanup) await f();
});

const stream = () => naming.stream(StringValueSchema);

async function publish(value: string): Promise<string> {
  return db.transaction((tx) => enqueueEvent(tx, StringValueSchema, { value }, { naming }));
}

/** A consumer that records each event as an effect row, with hooks for the test. */
function recordingConsumer(
  durable: string,
  options: {
    maxDeliver?: number;
    backoffMs?: number[];
    fail?: (value: string) => boolean;
    outcomes?: { meta: EventMeta; outcome: Outcome }[];
    calls?: string[];
  } = {},
): EventConsumer {
  const c = new EventConsumer({
    db,
    bus,
    beforeAck: (meta, outcome) => void options.outcomes?.push({ meta, outcome }),
  });
  c.consume({
    durable,
    events: [StringValueSchema],
    maxDeliver: options.maxDeliver ?? 5,
    backoffMs: options.backoffMs ?? [300, 600],
    handle: async (tx, event, meta) => {
      options.calls?.push(event.value);
      await tx.insert(effects).values({ consumer: meta.consumer, eventId: meta.eventId, value: event.value });
      if (options.fail?.(event.value)) throw new Error(`cannot handle ${event.value}`);
    },
  });
  return c;
}

describe("EventConsumer", () => {
  it("one subscription, several event types from several streams, typed handler", async () => {
    const seen: string[] = [];
    const sub = subscription({
      durable: "svc-typed",
      events: [OrderPlacedSchema, PaymentFailedSchema],
      backoffMs: [300, 600],
      handle: async (tx, event, meta) => {
        switch (event.$typeName) {
          case "shop.order.v1.OrderPlaced":
            seen.push(`placed ${event.orderId} ${event.lines.length}`);
            break;
          case "shop.payment.v1.PaymentFailed":
            seen.push(`failed ${event.orderId}`);
            break;
        }
        await tx.insert(effects).values({ consumer: meta.consumer, eventId: meta.eventId, value: event.orderId });
      },
    });
    const consumer = new EventConsumer({ db, bus }).consume(sub);
    expect(consumer.consumerNames).toEqual(["svc-typed-order-placed", "svc-typed-payment-failed"]);
    await consumer.start();
    try {
      await db.transaction(async (tx) => {
        await enqueueEvent(
          tx,
          OrderPlacedSchema,
          { orderId: "o-1", userId: "u-1", lines: [{}], placedAt: timestampNow() },
          { naming },
        );
        await enqueueEvent(tx, PaymentFailedSchema, { orderId: "o-1", paymentId: "p-1" }, { naming });
      });
      await waitFor("both events", () => seen.length === 2);
      expect(seen.sort()).toEqual(["failed o-1", "placed o-1 1"]);
      expect(naming.stream(OrderPlacedSchema)).toBe(`${naming.streamPrefix}_ORDER`);
      expect((await bus.jsm.streams.info(naming.stream(PaymentFailedSchema))).config.subjects).toEqual([
        `${naming.subjectPrefix}.shop.payment.v1.>`,
      ]);
    } finally {
      await consumer.stop();
    }
  });

  it("consumer killed after its effects committed but before the ack: redelivery is skipped by the inbox", async () => {
    const durable = "svc-crash";
    const name = naming.consumerName(durable, StringValueSchema);
    const id = await publish("commit then die");

    const child = await runFixture("consumer-crash.ts", {
      DB_URL: url,
      NATS_URL,
      SUBJECT_PREFIX: naming.subjectPrefix,
      STREAM_PREFIX: naming.streamPrefix,
      DURABLE: durable,
      BACKOFF_MS: "300,600",
    });
    expect(child.signal, child.output).toBe("SIGKILL");
    expect(child.output).toContain(`processed ${id}`);
    expect(await countEffects(db, name, id)).toBe(1);
    // Not acked: JetStream still holds it for this consumer.
    expect((await bus.jsm.consumers.info(stream(), name)).num_ack_pending).toBe(1);

    const outcomes: { meta: EventMeta; outcome: Outcome }[] = [];
    const calls: string[] = [];
    const consumer = recordingConsumer(durable, { outcomes, calls });
    await consumer.start();
    try {
      await waitFor("the redelivery to be acked", () => consumerIdle(bus, stream(), name));
      expect(outcomes.map((o) => [o.meta.eventId, o.meta.deliveryCount, o.outcome])).toEqual([[id, 2, "duplicate"]]);
      expect(calls).toEqual([]);
      expect(await countEffects(db, name, id)).toBe(1);
    } finally {
      await consumer.stop();
    }
  });

  it("a burst is pulled at once, handled one at a time in order, and none waiting behind a slow handler is redelivered", async () => {
    const durable = "svc-burst";
    const name = naming.consumerName(durable, StringValueSchema);
    const handled: { value: string; delivery: number }[] = [];
    const unackedWhileFirstRan: number[] = [];
    let running = 0;
    let mostAtOnce = 0;
    // ack_wait is 300 ms; six handlers of 150 ms each keep the last message
    // waiting ~750 ms after it arrived.
    const consumer = new EventConsumer({ db, bus }).consume({
      durable,
      events: [StringValueSchema],
      backoffMs: [300, 600],
      handle: async (tx, event, meta) => {
        if (!event.value.startsWith("burst ")) return; // the stream's earlier events
        mostAtOnce = Math.max(mostAtOnce, ++running);
        await new Promise((resolve) => setTimeout(resolve, 150));
        if (handled.length === 0) {
          unackedWhileFirstRan.push((await bus.jsm.consumers.info(stream(), name)).num_ack_pending);
        }
        handled.push({ value: event.value, delivery: meta.deliveryCount });
        await tx.insert(effects).values({ consumer: meta.consumer, eventId: meta.eventId, value: event.value });
        running--;
      },
    });
    await consumer.start();
    try {
      await waitFor("the stream's earlier events to be handled", () => consumerIdle(bus, stream(), name));
      const values = [1, 2, 3, 4, 5, 6].map((i) => `burst ${i}`);
      await db.transaction(async (tx) => {
        for (const value of values) await enqueueEvent(tx, StringValueSchema, { value }, { naming });
      });
      await waitFor(
        "the burst to be handled and acked",
        async () => handled.length >= values.length && (await consumerIdle(bus, stream(), name)),
      );
      expect(handled).toEqual(values.map((value) => ({ value, delivery: 1 })));
      expect(mostAtOnce).toBe(1);
      // One pull brought them all: with a pull per message only one is ever unacked.
      expect(unackedWhileFirstRan[0]).toBe(values.length);
    } finally {
      await consumer.stop();
    }
  });

  it("a hook that fails leaves nothing behind: its message comes back (the inbox has it), the rest of the pull flows", async () => {
    const durable = "svc-hook-fails";
    const name = naming.consumerName(durable, StringValueSchema);
    const outcomes: { value: string; delivery: number; outcome: Outcome }[] = [];
    let failOnce = true;
    const values = new Map<string, string>();
    const consumer = new EventConsumer({
      db,
      bus,
      beforeAck: (meta, outcome) => {
        const value = values.get(meta.eventId);
        if (value === undefined) return; // the stream's earlier events
        outcomes.push({ value, delivery: meta.deliveryCount, outcome });
        if (value === "hook 1" && failOnce) {
          failOnce = false;
          throw new Error("metrics backend down");
        }
      },
    }).consume({
      durable,
      events: [StringValueSchema],
      backoffMs: [300, 600],
      handle: async (tx, event, meta) => {
        await tx.insert(effects).values({ consumer: meta.consumer, eventId: meta.eventId, value: event.value });
      },
    });
    await consumer.start();
    try {
      await waitFor("the stream's earlier events to be handled", () => consumerIdle(bus, stream(), name));
      await db.transaction(async (tx) => {
        for (const value of ["hook 1", "hook 2", "hook 3"]) {
          values.set(await enqueueEvent(tx, StringValueSchema, { value }, { naming }), value);
        }
      });
      await waitFor("all three settled", async () => outcomes.length >= 4 && (await consumerIdle(bus, stream(), name)));
      expect(outcomes).toEqual([
        { value: "hook 1", delivery: 1, outcome: "processed" },
        { value: "hook 2", delivery: 1, outcome: "processed" },
        { value: "hook 3", delivery: 1, outcome: "processed" },
        { value: "hook 1", delivery: 2, outcome: "duplicate" },
      ]);
      for (const id of values.keys()) expect(await countEffects(db, name, id)).toBe(1);
    } finally {
      await consumer.stop();
    }
  });

  it("an event published twice past JetStream's duplicate window is applied once", async () => {
    const durable = "svc-dup";
    const name = naming.consumerName(durable, StringValueSchema);
    const consumer = recordingConsumer(durable);
    await consumer.start();
    try {
      const id = "0190a0b0-0000-7000-8000-0000000000d1";
      for (const msgID of [id, `${id}-again`]) {
        const h = natsHeaders();
        h.set(EVENT_ID_HEADER, id);
        h.set(EVENT_TYPE_HEADER, StringValueSchema.typeName);
        await bus.js.publish(naming.subject(StringValueSchema), new Uint8Array([10, 1, 100]), { msgID, headers: h });
      }
      await waitFor("both copies to be handled", () => consumerIdle(bus, stream(), name));
      expect(await countEffects(db, name, id)).toBe(1);
      const rows = await db
        .select()
        .from(inbox)
        .where(and(eq(inbox.messageId, id), eq(inbox.consumer, name)));
      expect(rows).toHaveLength(1);
    } finally {
      await consumer.stop();
    }
  });

  it("a poison message is dead-lettered after max deliveries, later messages flow, and replay applies it once", async () => {
    let broken = true;
    const failing = naming.consumerName("svc-poison", StringValueSchema);
    const healthy = naming.consumerName("svc-healthy", StringValueSchema);
    const poisoned = recordingConsumer("svc-poison", {
      maxDeliver: 3,
      backoffMs: [200, 400],
      fail: (value) => broken && value === "poison",
    });
    const other = recordingConsumer("svc-healthy");
    await poisoned.start();
    await other.start();
    try {
      const poisonId = await publish("poison");
      const laterId = await publish("fine");

      // The later message is not blocked behind the poison one.
      await waitFor("the later message", async () => (await countEffects(db, failing, laterId)) === 1);
      const letter = await waitFor("the dead letter", async () => {
        const [row] = await db.select().from(deadLetters).where(eq(deadLetters.eventId, poisonId));
        return row;
      });
      expect(letter).toMatchObject({
        consumer: failing,
        subject: naming.subject(StringValueSchema),
        eventType: "google.protobuf.StringValue",
        deliveryCount: 3,
        replayCount: 0,
        replayedAt: null,
      });
      expect(letter.error).toContain("cannot handle poison");
      expect(letter.payload).toEqual(new Uint8Array([10, 6, ...new TextEncoder().encode("poison")]));
      expect(letter.headers[EVENT_ID_HEADER]).toBe(poisonId);
      await waitFor("the poisoned consumer to settle (terminated, not pending)", () =>
        consumerIdle(bus, stream(), failing),
      );
      // Its failed attempts rolled back: no effects, no inbox row.
      expect(await countEffects(db, failing, poisonId)).toBe(0);
      expect(
        await db
          .select()
          .from(inbox)
          .where(and(eq(inbox.messageId, poisonId), eq(inbox.consumer, failing))),
      ).toEqual([]);
      // The other consumer of the subject handled both normally.
      await waitFor("the healthy consumer", () => consumerIdle(bus, stream(), healthy));
      expect(await countEffects(db, healthy, poisonId)).toBe(1);

      const page = await listDeadLetters(db, { consumer: failing });
      expect(page.deadLetters.map((d) => d.id)).toEqual([letter.id]);
      expect(page.nextCursor).toBeUndefined();
      expect((await listDeadLetters(db, { consumer: healthy })).deadLetters).toEqual([]);

      // Fix the handler, replay.
      broken = false;
      const replayed = await replayDeadLetter(db, bus.js, letter.id);
      expect(replayed.replayCount).toBe(1);
      expect(replayed.replayedAt).toBeInstanceOf(Date);
      await waitFor("the replay to be applied", async () => (await countEffects(db, failing, poisonId)) === 1);

      // Replaying again changes nothing; the healthy consumer ignored both replays.
      await replayDeadLetter(db, bus.js, letter.id);
      await waitFor(
        "both consumers to settle",
        async () => (await consumerIdle(bus, stream(), failing)) && (await consumerIdle(bus, stream(), healthy)),
      );
      expect(await countEffects(db, failing, poisonId)).toBe(1);
      expect(await countEffects(db, healthy, poisonId)).toBe(1);
      const [after] = await db.select().from(deadLetters).where(eq(deadLetters.id, letter.id));
      expect(after.replayCount).toBe(2);
      expect((await listDeadLetters(db, { consumer: failing, pendingOnly: true })).deadLetters).toEqual([]);
    } finally {
      await poisoned.stop();
      await other.stop();
    }
  });

  it("an undecodable message is dead-lettered at once, without retries", async () => {
    const durable = "svc-garbage";
    const name = naming.consumerName(durable, StringValueSchema);
    const garbageId = "0190a0b0-0000-7000-8000-0000000000ee";
    const outcomes: { meta: EventMeta; outcome: Outcome }[] = [];
    const consumer = recordingConsumer(durable, { outcomes });
    await consumer.start();
    try {
      const h = natsHeaders();
      h.set(EVENT_ID_HEADER, garbageId);
      h.set(EVENT_TYPE_HEADER, StringValueSchema.typeName);
      await bus.js.publish(naming.subject(StringValueSchema), new Uint8Array([0xff, 0xff, 0xff]), { headers: h });
      const letter = await waitFor("the dead letter", async () => {
        const [row] = await db
          .select()
          .from(deadLetters)
          .where(and(eq(deadLetters.consumer, name), eq(deadLetters.eventId, garbageId)));
        return row;
      });
      expect(letter.deliveryCount).toBe(1);
      expect(letter.error).toContain("cannot decode");
      await waitFor("the consumer to settle", () => consumerIdle(bus, stream(), name));
      expect(outcomes.filter((o) => o.meta.eventId === garbageId).map((o) => o.outcome)).toEqual(["dead-lettered"]);
      expect(await countEffects(db, name, garbageId)).toBe(0);
    } finally {
      await consumer.stop();
    }
  });

  it("lists dead letters newest first, a page at a time", async () => {
    const consumer = "svc-paging";
    for (let i = 0; i < 5; i++) {
      await db.insert(deadLetters).values({
        id: `0190a0b0-0000-7000-8000-00000000010${i}`,
        consumer,
        stream: stream(),
        streamSequence: i,
        subject: naming.subject(StringValueSchema),
        eventId: `e${i}`,
        eventType: StringValueSchema.typeName,
        payload: new Uint8Array(),
        error: "x",
        deliveryCount: 1,
      });
    }
    const first = await listDeadLetters(db, { consumer, limit: 2 });
    expect(first.deadLetters.map((d) => d.eventId)).toEqual(["e4", "e3"]);
    const second = await listDeadLetters(db, { consumer, limit: 2, cursor: first.nextCursor! });
    expect(second.deadLetters.map((d) => d.eventId)).toEqual(["e2", "e1"]);
    const third = await listDeadLetters(db, { consumer, limit: 2, cursor: second.nextCursor! });
    expect(third.deadLetters.map((d) => d.eventId)).toEqual(["e0"]);
    expect(third.nextCursor).toBeUndefined();
  });
});

describe("ensureConsumer / ensureStream", () => {
  it("create once and update only when the config differs", async () => {
    await bus.ensureStreamFor(StringValueSchema);
    const options = {
      name: "cfg-check",
      filterSubject: naming.subject(StringValueSchema),
      backoffMs: [1000, 2000],
      maxDeliver: 5,
    };
    const a = await ensureConsumer(bus.jsm, stream(), options);
    const b = await ensureConsumer(bus.jsm, stream(), options);
    expect(b.created).toEqual(a.created);
    expect(b.config.max_deliver).toBe(5);
    const c = await ensureConsumer(bus.jsm, stream(), { ...options, backoffMs: [500, 1000, 3000], maxDeliver: 7 });
    expect(c.config.max_deliver).toBe(7);
    expect(c.config.backoff).toHaveLength(3);
    await expect(ensureConsumer(bus.jsm, stream(), { ...options, backoffMs: [1, 2, 3, 4, 5] })).rejects.toThrow(
      /max_deliver/,
    );
    await bus.jsm.consumers.delete(stream(), "cfg-check");

    // Streams: new subjects (say, a v2 package of the domain) are added, old ones kept.
    const extra = `${naming.subjectPrefix}.other.v2.>`;
    const updated = await ensureStream(bus.jsm, { name: stream(), subjects: [extra], storage: "memory" });
    expect(updated.config.subjects).toEqual([naming.streamSubject(StringValueSchema), extra]);
    const same = await ensureStream(bus.jsm, { name: stream(), subjects: [extra], storage: "memory" });
    expect(same.config.subjects).toHaveLength(2);
    await expect(replayDeadLetter(db, bus.js, "not-a-uuid")).rejects.toThrow(DeadLetterNotFoundError);
    await expect(replayDeadLetter(db, bus.js, "0190a0b0-0000-7000-8000-00000000ffff")).rejects.toThrow(
      DeadLetterNotFoundError,
    );
    // Sanity: nothing in this file left rows unsent.
    const [row] = await db.execute<{ n: number }>(
      sql`select count(*)::int as n from outbox where published_at is null`,
    );
    expect(row.n).toBe(0);
  });
});
