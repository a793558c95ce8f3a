// The transactional outbox and its relay against real Postgres and JetStream.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { StringValueSchema } from "@bufbuild/protobuf/wkt";
import { eq, inArray, sql } from "drizzle-orm";
import { outbox } from "../src/db/index.ts";
import {
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
  EventConsumer,
  OutboxRelay,
  enqueueEvent,
  type EventBus,
  type EventNaming,
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
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  const d = await createTestDatabase();
  db = d.db;
  url = d.url;
  const b = await createTestBus();
  bus = b.bus;
  naming = b.naming;
  cleanup.push(b.close, d.drop);
});

afterAll(async () => {
  for (const f of cleanup) await f();
});

async function enqueue(value: string, headers?: Record<string, string>): Promise<string> {
  return db.transaction((tx) =>
    enqueueEvent(tx, StringValueSchema, { value }, { naming, ...(headers ? { headers } : {}) }),
  );
}

async function publishedAt(id: string): Promise<Date | null> {
  const [row] = await db.select({ at: outbox.publishedAt }).from(outbox).where(eq(outbox.id, id));
  return row?.at ?? null;
}

/** How many messages the test stream holds. */
async function streamMessages(): Promise<number> {
  const info = await bus.jsm.streams.info(naming.stream(StringValueSchema));
  return info.state.messages;
}

describe("enqueueEvent", () => {
  it("writes the event in the caller's transaction, and nothing on rollback", async () => {
    const message = create(StringValueSchema, { value: "kept" });
    const id = await db.transaction((tx) =>
      enqueueEvent(tx, StringValueSchema, message, { naming, headers: { traceparent: "00-abc-def-01" } }),
    );
    const [row] = await db.select().from(outbox).where(eq(outbox.id, id));
    expect(row).toMatchObject({
      subject: `${naming.subjectPrefix}.google.protobuf.StringValue`,
      eventType: "google.protobuf.StringValue",
      headers: { traceparent: "00-abc-def-01" },
      publishedAt: null,
    });
    expect(row.payload).toEqual(new Uint8Array([10, 4, 107, 101, 112, 116]));

    let rolledBackId = "";
    await expect(
      db.transaction(async (tx) => {
        rolledBackId = await enqueueEvent(tx, StringValueSchema, { value: "lost" }, { naming });
        throw new Error("rollback");
      }),
    ).rejects.toThrow("rollback");
    expect(await db.select().from(outbox).where(eq(outbox.id, rolledBackId))).toEqual([]);
    // Leave the table clean for the relay tests below.
    await db.delete(outbox);
  });
});

describe("OutboxRelay", () => {
  it("wakes on NOTIFY: publishes at once, without waiting for its poll", async () => {
    const relay = new OutboxRelay({ db, bus, pollIntervalMs: 600_000 });
    await relay.start();
    await relay.flush(); // the start-up pass is over: only a NOTIFY can wake it now
    try {
      const started = Date.now();
      const id = await enqueue("notified", { traceparent: "00-trace-span-01" });
      await waitFor("the event to be published", () => publishedAt(id), { timeoutMs: 5_000 });
      expect(Date.now() - started).toBeLessThan(5_000);

      const stored = await bus.jsm.streams.getMessage(naming.stream(StringValueSchema), {
        last_by_subj: naming.subject(StringValueSchema),
      });
      expect(stored?.header.get("Nats-Msg-Id")).toBe(id);
      expect(stored?.header.get(EVENT_ID_HEADER)).toBe(id);
      expect(stored?.header.get(EVENT_TYPE_HEADER)).toBe("google.protobuf.StringValue");
      expect(stored?.header.get("traceparent")).toBe("00-trace-span-01");
    } finally {
      await relay.stop();
    }
  });

  it("polls: picks up a row whose NOTIFY it never saw", async () => {
    const relay = new OutboxRelay({ db, bus, pollIntervalMs: 200 });
    await relay.start();
    try {
      // Inserted behind the relay's back: no pg_notify.
      const id = "0190a0b0-0000-7000-8000-000000000001";
      await db.insert(outbox).values({
        id,
        subject: naming.subject(StringValueSchema),
        eventType: StringValueSchema.typeName,
        payload: new Uint8Array([10, 1, 120]),
      });
      await waitFor("the poll to publish the row", () => publishedAt(id), { timeoutMs: 5_000 });
    } finally {
      await relay.stop();
    }
  });

  it("a failed publish leaves its row unsent, with the error, while the rest of the batch is sent", async () => {
    const failing = new Set<string>();
    const relay = new OutboxRelay({
      db,
      bus,
      pollIntervalMs: 600_000,
      aroundPublish: (event, publish) =>
        failing.has(event.id) ? Promise.reject(new Error("broker said no")) : publish(),
    });
    await relay.start();
    await relay.flush();
    try {
      const [bad, good] = [crypto.randomUUID(), crypto.randomUUID()];
      failing.add(bad);
      await db.transaction(async (tx) => {
        await enqueueEvent(tx, StringValueSchema, { value: "refused" }, { naming, eventId: bad });
        await enqueueEvent(tx, StringValueSchema, { value: "accepted" }, { naming, eventId: good });
      });
      await relay.flush();
      await waitFor("the good event to be published", () => publishedAt(good), { timeoutMs: 5_000 });
      const [row] = await db.select().from(outbox).where(eq(outbox.id, bad));
      expect(row.publishedAt).toBeNull();
      expect(row.attempts).toBeGreaterThanOrEqual(1);
      expect(row.lastError).toContain("broker said no");

      failing.clear();
      await relay.flush();
      await waitFor("the refused event to be published on a later pass", () => publishedAt(bad), { timeoutMs: 5_000 });
    } finally {
      await relay.stop();
    }
  });

  it("idle: polls less and less, and opens no transaction while nothing is unsent", async () => {
    let transactions = 0;
    let selects = 0;
    // The same database, counting what the relay asks of it.
    const counted = new Proxy(db, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        if (key === "transaction") transactions++;
        if (key === "select") selects++;
        return key === "transaction" || key === "select" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const relay = new OutboxRelay({ db: counted, bus, pollIntervalMs: 50, idlePollMaxMs: 400 });
    await relay.start();
    try {
      await new Promise((r) => setTimeout(r, 2000));
      // At start a pass or two (LISTEN's connect and start() each ask for one); then polls at 50, 100, 200, 400, 400... ms:
      // about 8 in 2 s where a fixed 50 ms poll would have made 40 passes.
      expect(transactions).toBeLessThanOrEqual(2);
      expect(selects).toBeGreaterThan(2);
      expect(selects).toBeLessThan(12);
      // And it still picks up a row inserted behind its back, within the idle interval.
      const id = "0190a0b0-0000-7000-8000-0000000000a1";
      await db.insert(outbox).values({
        id,
        subject: naming.subject(StringValueSchema),
        eventType: StringValueSchema.typeName,
        payload: new Uint8Array([10, 1, 121]),
      });
      await waitFor("the idle poll to publish the row", () => publishedAt(id), { timeoutMs: 5_000 });
    } finally {
      await relay.stop();
    }
  });

  it("stop() flushes what was enqueued before it", async () => {
    const relay = new OutboxRelay({ db, bus, pollIntervalMs: 600_000, channel: "nobody_listens_here" });
    await relay.start();
    const id = await enqueue("flushed on stop");
    await relay.stop();
    expect(await publishedAt(id)).not.toBeNull();
  });

  it("relay killed between the publish ack and marking sent: republished, applied exactly once per consumer", async () => {
    const consumers = ["svc-a", "svc-b"].map((durable) => {
      const c = new EventConsumer({ db, bus, defaults: { backoffMs: [500, 1000] } });
      c.consume({
        durable,
        events: [StringValueSchema],
        handle: async (tx, event, meta) => {
          await tx.insert(effects).values({ consumer: meta.consumer, eventId: meta.eventId, value: event.value });
        },
      });
      return c;
    });
    for (const c of consumers) await c.start();
    try {
      const before = await streamMessages();
      const id = await enqueue("survives a relay crash");

      const child = await runFixture("relay-crash.ts", {
        DB_URL: url,
        NATS_URL,
        SUBJECT_PREFIX: naming.subjectPrefix,
        STREAM_PREFIX: naming.streamPrefix,
      });
      expect(child.signal, child.output).toBe("SIGKILL");
      expect(child.output).toContain(`published ${id}`);
      // JetStream has it; the outbox still says unsent.
      expect(await streamMessages()).toBe(before + 1);
      expect(await publishedAt(id)).toBeNull();

      const relay = new OutboxRelay({ db, bus, pollIntervalMs: 200 });
      await relay.start();
      try {
        await waitFor("the fresh relay to mark the row sent", () => publishedAt(id));
        expect(relay.stats.duplicates).toBe(1); // JetStream dropped the republish
        expect(await streamMessages()).toBe(before + 1);
      } finally {
        await relay.stop();
      }

      const stream = naming.stream(StringValueSchema);
      for (const durable of ["svc-a", "svc-b"]) {
        const name = naming.consumerName(durable, StringValueSchema);
        await waitFor(`${name} to apply the event`, async () => (await countEffects(db, name, id)) === 1);
        await waitFor(`${name} to settle`, () => consumerIdle(bus, stream, name));
        expect(await countEffects(db, name, id)).toBe(1);
      }
    } finally {
      for (const c of consumers) await c.stop();
    }
  });

  it("deletes rows published longer ago than the retention, never unsent ones", async () => {
    const relay = new OutboxRelay({
      db,
      bus,
      pollIntervalMs: 600_000,
      channel: "nobody_listens_here",
      retainPublishedMs: 3600_000,
    });
    await relay.start();
    try {
      const [oldSent, recentSent, oldUnsent] = [
        await enqueue("old, sent"),
        await enqueue("recent, sent"),
        await enqueue("old, unsent"),
      ];
      await relay.flush();
      await db.execute(sql`update outbox set published_at = now() - interval '2 hours' where id = ${oldSent}`);
      await db.execute(
        sql`update outbox set published_at = null, created_at = now() - interval '3 hours' where id = ${oldUnsent}`,
      );

      expect(await relay.prunePublished()).toBe(1);
      const left = await db
        .select({ id: outbox.id })
        .from(outbox)
        .where(inArray(outbox.id, [oldSent, recentSent, oldUnsent]));
      expect(left.map((r) => r.id).sort()).toEqual([recentSent, oldUnsent].sort());
      expect(await relay.prunePublished()).toBe(0);
    } finally {
      await relay.stop();
    }
  });

  it("keeps published rows forever with a retention of 0", async () => {
    const relay = new OutboxRelay({
      db,
      bus,
      pollIntervalMs: 600_000,
      channel: "nobody_listens_here",
      retainPublishedMs: 0,
    });
    await relay.start();
    try {
      const id = await enqueue("kept");
      await relay.flush();
      await db.execute(sql`update outbox set published_at = now() - interval '400 days' where id = ${id}`);
      expect(await relay.prunePublished()).toBe(0);
      expect(await publishedAt(id)).not.toBeNull();
    } finally {
      await relay.stop();
    }
  });

  it("several relays on one outbox publish every row once", async () => {
    const relays = Array.from({ length: 3 }, () => new OutboxRelay({ db, bus, pollIntervalMs: 100, batchSize: 7 }));
    const before = await streamMessages();
    const ids = await db.transaction(async (tx) => {
      const out: string[] = [];
      for (let i = 0; i < 60; i++)
        out.push(await enqueueEvent(tx, StringValueSchema, { value: `bulk ${i}` }, { naming }));
      return out;
    });
    await Promise.all(relays.map((r) => r.start()));
    try {
      await waitFor("all rows marked sent", async () => {
        const [row] = await db.execute<{ n: number }>(
          sql`select count(*)::int as n from outbox where published_at is null`,
        );
        return row.n === 0;
      });
      const total = relays.reduce((n, r) => n + r.stats.published, 0);
      expect(total).toBe(ids.length);
      expect(relays.reduce((n, r) => n + r.stats.duplicates, 0)).toBe(0);
      expect(await streamMessages()).toBe(before + ids.length);
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
    }
  });
});
