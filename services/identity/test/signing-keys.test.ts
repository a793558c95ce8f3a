// The signing-key ring against a real database: replicas starting at once
// agree on one key, rotation keeps superseded keys published for a token
// lifetime, and retired keys disappear.
import { closeDatabase, dropDatabase, openDatabase, withDatabase, type Database } from "@shop/runtime/db/database";
import { migrate } from "@shop/runtime/db/migrate";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_DATABASE_URL, uniqueId } from "../../../tests/support/system.ts";
import * as schema from "../src/schema.ts";
import { signingKeys } from "../src/schema.ts";
import { SigningKeys } from "../src/signing-keys.ts";

const url = withDatabase(ADMIN_DATABASE_URL, uniqueId("identity_keys"));
let db: Database<typeof schema>;
beforeAll(async () => {
  db = await openDatabase({ url, schema, createIfMissing: true });
  await migrate(db, new URL("../drizzle", import.meta.url));
});
afterAll(async () => {
  if (db) await closeDatabase(db);
  await dropDatabase(url);
});

const HOUR = 3_600_000;
const ring = () => new SigningKeys(db, { rotationMs: HOUR, accessTokenTtlSeconds: 600 });
const kids = async () => (await ring().published()).map((k) => k.kid);

describe("signing keys", () => {
  it("creates exactly one key when several replicas start at once", async () => {
    const replicas = Array.from({ length: 6 }, ring);
    const keys = await Promise.all(replicas.map((r) => r.current()));
    expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
    const [{ n }] = await db.select({ n: sql<number>`count(*)::int` }).from(signingKeys);
    expect(n).toBe(1);
    const published = await ring().published();
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ kid: keys[0].kid, kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(published[0]).not.toHaveProperty("d");
  });

  it("rotates a key older than the period once, keeping the old one published until its tokens expire", async () => {
    const [old] = await kids();
    await db.update(signingKeys).set({ createdAt: sql`now() - interval '2 hours'` });
    const rotated = await Promise.all(Array.from({ length: 4 }, () => ring().current()));
    expect(new Set(rotated.map((k) => k.kid)).size).toBe(1);
    expect(rotated[0].kid).not.toBe(old);
    expect(await kids()).toEqual([rotated[0].kid, old]);

    const [retiring] = await db
      .select({ seconds: sql<number>`extract(epoch from ${signingKeys.retireAfter} - now())::int` })
      .from(signingKeys)
      .where(sql`${signingKeys.kid} = ${old}`);
    // The token lifetime (600 s) plus the grace period for replicas and clocks.
    expect(retiring.seconds).toBeGreaterThan(600);
    expect(retiring.seconds).toBeLessThanOrEqual(900);

    // Once every token it signed has expired, the old key is no longer
    // published, and the next rotation deletes it.
    await db
      .update(signingKeys)
      .set({ retireAfter: sql`now() - interval '1 second'` })
      .where(sql`${signingKeys.kid} = ${old}`);
    expect(await kids()).toEqual([rotated[0].kid]);
    await db
      .update(signingKeys)
      .set({ createdAt: sql`now() - interval '2 hours'` })
      .where(sql`${signingKeys.kid} = ${rotated[0].kid}`);
    const third = await ring().current();
    const all = await db.select({ kid: signingKeys.kid }).from(signingKeys);
    expect(all.map((r) => r.kid).sort()).toEqual([rotated[0].kid, third.kid].sort());
  });

  it("tells listeners when this replica switches keys", async () => {
    const replica = ring();
    const seen: string[] = [];
    replica.onNewKey((key) => seen.push(key.kid));
    const first = await replica.current();
    await replica.current();
    expect(seen).toEqual([first.kid]);
  });
});
