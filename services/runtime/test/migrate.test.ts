// Database creation and migrations under concurrency: several replicas
// starting at once must all come up, with every migration applied once.
import { afterAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { closeDatabase, dropDatabase, ensureDatabase, migrate, openDatabase, withDatabase } from "../src/db/index.ts";
import { ADMIN_URL, fixtureMigrations, uniqueName } from "./helpers.ts";

const created: string[] = [];
afterAll(async () => {
  for (const url of created) await dropDatabase(url);
});

describe("ensureDatabase", () => {
  it("creates a missing database once, tolerating concurrent creators", async () => {
    const url = withDatabase(ADMIN_URL, uniqueName());
    created.push(url);
    const results = await Promise.all(Array.from({ length: 5 }, () => ensureDatabase(url)));
    expect(results.filter(Boolean).length).toBeLessThanOrEqual(1);
    expect(await ensureDatabase(url)).toBe(false);
    const db = await openDatabase({ url });
    expect((await db.execute(sql`select current_database() as name`))[0]).toEqual({ name: url.split("/").pop() });
    await closeDatabase(db);
  });
});

describe("migrate", () => {
  it("is safe when five replicas migrate a fresh database at once", async () => {
    const url = withDatabase(ADMIN_URL, uniqueName());
    created.push(url);
    const replicas = await Promise.all(
      Array.from({ length: 5 }, () => openDatabase({ url, createIfMissing: true, max: 2 })),
    );
    try {
      const results = await Promise.allSettled(replicas.map((db) => migrate(db, fixtureMigrations)));
      expect(results.map((r) => (r.status === "rejected" ? String(r.reason) : "ok"))).toEqual(Array(5).fill("ok"));

      const db = replicas[0];
      const journal = await db.execute<{ runtime: number; service: number }>(sql`
        select (select count(*)::int from drizzle.__runtime_migrations) as runtime,
               (select count(*)::int from drizzle.__drizzle_migrations) as service`);
      expect(journal[0]).toEqual({ runtime: 1, service: 1 });
      const tables = await db.execute<{ table_name: string }>(sql`
        select table_name from information_schema.tables where table_schema = 'public' order by table_name`);
      expect(tables.map((t) => t.table_name)).toEqual(["dead_letters", "effects", "inbox", "outbox"]);

      // And again later (a restart): nothing to do, nothing breaks.
      await migrate(url, fixtureMigrations);
      const again = await db.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      expect(again[0].n).toBe(1);
    } finally {
      await Promise.all(replicas.map((db) => closeDatabase(db)));
    }
  });
});
