// Shared set-up for the runtime's integration tests: real Postgres, real
// JetStream, every name unique per test file so parallel runs (and a running
// system) never see each other's databases, streams or subjects.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { closeDatabase, dropDatabase, migrate, openDatabase, withDatabase, type Database } from "../src/db/index.ts";
import { EventBus, EventNaming } from "../src/events/index.ts";
import * as fixtureSchema from "./fixtures/schema.ts";
import { eventually } from "../../../tests/support/eventually.ts";

export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
export const fixtureMigrations = fileURLToPath(new URL("./fixtures/migrations", import.meta.url));

export type TestDatabase = Database<typeof fixtureSchema>;

export function uniqueName(prefix = "t"): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

/** A fresh database with the runtime's and the fixture's migrations applied. */
export async function createTestDatabase(): Promise<{ url: string; db: TestDatabase; drop: () => Promise<void> }> {
  const url = withDatabase(ADMIN_URL, uniqueName());
  const db = await openDatabase({ url, schema: fixtureSchema, createIfMissing: true, max: 5 });
  await migrate(db, fixtureMigrations);
  return {
    url,
    db,
    drop: async () => {
      await closeDatabase(db);
      await dropDatabase(url);
    },
  };
}

/** A bus with its own subject/stream prefix; close() also deletes its streams. */
export async function createTestBus(): Promise<{ bus: EventBus; naming: EventNaming; close: () => Promise<void> }> {
  const naming = EventNaming.unique(uniqueName("t"));
  const bus = await EventBus.connect({ servers: NATS_URL, naming, stream: { storage: "memory" } });
  return {
    bus,
    naming,
    close: async () => {
      for await (const name of bus.jsm.streams.names()) {
        if (name.startsWith(`${naming.streamPrefix}_`)) await bus.jsm.streams.delete(name).catch(() => {});
      }
      await bus.close();
    },
  };
}

/** The shared poller (tests/support/eventually.ts), with tighter defaults for these fast local checks. */
export function waitFor<T>(
  what: string,
  check: () => Promise<T> | T,
  { timeoutMs = 20_000, intervalMs = 25 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  return eventually(what, check, { timeoutMs, intervalMs });
}

export async function countEffects(db: TestDatabase, consumer: string, eventId?: string): Promise<number> {
  const rows = await db.execute<{ n: number }>(
    eventId === undefined
      ? sql`select count(*)::int as n from effects where consumer = ${consumer}`
      : sql`select count(*)::int as n from effects where consumer = ${consumer} and event_id = ${eventId}`,
  );
  return rows[0].n;
}

/** True once the durable consumer has delivered and seen acks for everything in its stream. */
export async function consumerIdle(bus: EventBus, stream: string, consumer: string): Promise<boolean> {
  const info = await bus.jsm.consumers.info(stream, consumer);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Runs a TypeScript fixture script in a fresh Node process (same Node binary). */
export function runFixture(script: string, env: Record<string, string>): Promise<ChildResult> {
  const path = fileURLToPath(new URL(`./fixtures/${script}`, import.meta.url));
  const child = spawn(
    process.execPath,
    ["--experimental-transform-types", "--disable-warning=ExperimentalWarning", path],
    { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, output }));
  });
}
