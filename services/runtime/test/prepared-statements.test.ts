// Every parameterised statement drizzle sends through openDatabase() is a
// named prepared statement of its connection: planned once, then one
// Bind/Execute round trip (see preparingEveryStatement).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { closeDatabase, dropDatabase, openDatabase, withDatabase, type Database } from "../src/db/index.ts";
import { oncePerDatabase } from "../src/db/database.ts";
import { ADMIN_URL, uniqueName } from "./helpers.ts";

const url = withDatabase(ADMIN_URL, uniqueName());
let db: Database;

beforeAll(async () => {
  // One connection, so pg_prepared_statements (per session) sees every statement.
  db = await openDatabase({ url, createIfMissing: true, max: 1 });
  await db.execute(sql`create table notes (id int primary key, body text not null)`);
});
afterAll(async () => {
  await closeDatabase(db);
  await dropDatabase(url);
});

const preparedTexts = async () =>
  (await db.execute<{ statement: string }>(sql`select statement from pg_prepared_statements`)).map((r) => r.statement);

describe("openDatabase", () => {
  it("prepares a parameterised statement once and reuses it", async () => {
    for (let i = 1; i <= 3; i++) await db.execute(sql`insert into notes (id, body) values (${i}, ${`note ${i}`})`);
    const texts = await preparedTexts();
    expect(texts.filter((t) => t.startsWith("insert into notes"))).toHaveLength(1);
    expect((await db.execute(sql`select count(*)::int as n from notes`))[0]).toEqual({ n: 3 });
  });

  it("prepares statements inside transactions too", async () => {
    await db.transaction(async (tx) => {
      await tx.execute(sql`update notes set body = ${"changed"} where id = ${1}`);
    });
    expect((await preparedTexts()).filter((t) => t.startsWith("update notes"))).toHaveLength(1);
    expect((await db.execute(sql`select body from notes where id = 1`))[0]).toEqual({ body: "changed" });
  });

  it("still runs statements without parameters, several to a string, as simple queries", async () => {
    await db.execute(sql.raw("update notes set body = 'a' where id = 2; update notes set body = 'b' where id = 3"));
    const rows = await db.execute<{ body: string }>(sql`select body from notes where id in (2, 3) order by id`);
    expect(rows.map((r) => r.body)).toEqual(["a", "b"]);
  });
});

describe("oncePerDatabase", () => {
  it("builds once per database and hands back what it built", async () => {
    await db.execute(sql`create table pages (id int primary key, body text not null)`);
    await db.execute(sql`insert into pages values (1, 'first'), (2, 'second')`);
    let builds = 0;
    const pageById = oncePerDatabase((d: Database) => {
      builds++;
      return d
        .select({ body: sql<string>`body` })
        .from(sql`pages`)
        .where(sql`id = ${sql.placeholder("id")}`)
        .prepare("page_by_id");
    });
    expect(pageById(db)).toBe(pageById(db));
    expect(builds).toBe(1);
    expect(await pageById(db).execute({ id: 2 })).toEqual([{ body: "second" }]);
    const other = await openDatabase({ url, max: 1 });
    try {
      expect(pageById(other)).not.toBe(pageById(db));
      expect(builds).toBe(2);
      expect(await pageById(other).execute({ id: 1 })).toEqual([{ body: "first" }]);
    } finally {
      await closeDatabase(other);
    }
  });
});
