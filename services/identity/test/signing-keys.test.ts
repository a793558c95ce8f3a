// The signing-key ring against a real database, on a fake clock: replicas
// starting at once agree on one key; keys are stored sealed; and over several
// rotations, with the mesh's JWKS cache emulated (istiod re-reads the JWKS
// every refresh interval), no token is ever signed with a key the edge has not
// fetched yet, and every token's key stays published until the token expires.
import { closeDatabase, dropDatabase, openDatabase, withDatabase, type Database } from "@shop/runtime/db/database";
import { migrate } from "@shop/runtime/db/migrate";
import { sql } from "drizzle-orm";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ADMIN_DATABASE_URL, uniqueId } from "../../../tests/support/system.ts";
import { KeySealer, KeySealingError } from "../src/key-sealing.ts";
import * as schema from "../src/schema.ts";
import { signingKeys } from "../src/schema.ts";
import { RETIREMENT_GRACE_MS, SigningKeys, type SigningKeysOptions } from "../src/signing-keys.ts";

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
beforeEach(async () => {
  await db.delete(signingKeys);
});

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const kek = new Uint8Array(32).fill(9);
const sealer = new KeySealer(kek);

/** A clock the test moves. */
function fakeClock(start = Date.parse("2030-01-01T00:00:00Z")) {
  let now = start;
  return { now: () => new Date(now), advance: (ms: number) => (now += ms), at: () => now };
}

const ring = (clock: { now: () => Date }, options: Partial<SigningKeysOptions> = {}) =>
  new SigningKeys(db, {
    rotationMs: 10 * HOUR,
    publishLeadMs: HOUR,
    accessTokenTtlSeconds: 2 * 3600,
    sealer,
    now: clock.now,
    ...options,
  });

describe("signing keys", () => {
  it("creates exactly one key when several replicas start at once, and stores it sealed", async () => {
    const clock = fakeClock();
    const keys = await Promise.all(Array.from({ length: 6 }, () => ring(clock).current()));
    expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
    const rows = await db.select().from(signingKeys);
    expect(rows).toHaveLength(1);
    const published = await ring(clock).published();
    expect(published).toEqual([expect.objectContaining({ kid: keys[0].kid, kty: "EC", crv: "P-256", alg: "ES256" })]);
    expect(published[0]).not.toHaveProperty("d");
    // Never in plain form: no private JWK column, and the sealed text does not contain the private scalar.
    expect(rows[0].privateJwk).toBeNull();
    const opened = await sealer.open(rows[0].kid, rows[0].privateKeySealed!);
    expect(typeof opened.d).toBe("string");
    expect(rows[0].privateKeySealed).not.toContain(opened.d);
    expect(rows[0].privateKeySealed!.split(".")).toHaveLength(5); // compact JWE
  });

  for (const [label, leadMs, refreshMs, expectRefusals] of [
    ["a lead longer than the mesh's refresh: no token is ever refused", HOUR, 50 * MINUTE, false],
    ["(control) keys used as soon as created, as before: the edge refuses tokens", 0, 20 * MINUTE, true],
  ] as const) {
    it(`rotation with the mesh's JWKS cache emulated, ${label}`, async () => {
      const clock = fakeClock();
      const replicas = [ring(clock, { publishLeadMs: leadMs || 1 }), ring(clock, { publishLeadMs: leadMs || 1 })];
      // istiod: fetches the JWKS at start, then every refreshMs; the edge verifies against that copy.
      let istiodCache: string[] = [];
      let nextRefresh = clock.at();
      const step = 5 * MINUTE;
      const issued: { kid: string; at: number; expires: number }[] = [];
      const refused: string[] = [];
      const firstUse = new Map<string, number>();
      const seenPublished = new Map<string, number>();
      // identity starts (its first key signs at once), then istiod fetches the JWKS for the first time.
      await replicas[0].current();
      for (let t = 0; t < 35 * HOUR; t += step) {
        const now = clock.at();
        let published = (await replicas[0].published()).map((k) => k.kid!);
        for (const kid of published) if (!seenPublished.has(kid)) seenPublished.set(kid, now);
        if (now >= nextRefresh) {
          istiodCache = published;
          nextRefresh = now + refreshMs;
        }
        for (const replica of replicas) {
          const key = await replica.current();
          if (!firstUse.has(key.kid)) firstUse.set(key.kid, now);
          issued.push({ kid: key.kid, at: now, expires: now + 2 * HOUR });
          if (!istiodCache.includes(key.kid)) refused.push(`${new Date(now).toISOString()} ${key.kid}`);
        }
        // Every token issued so far and not expired still verifies against what is published.
        published = (await replicas[0].published()).map((k) => k.kid!);
        for (const token of issued.filter((x) => x.expires > now))
          expect(published, `token of ${token.kid} at ${new Date(now).toISOString()}`).toContain(token.kid);
        clock.advance(step);
      }
      const kids = [...firstUse.keys()];
      expect(kids.length).toBeGreaterThanOrEqual(4); // rotated at least three times
      if (expectRefusals) {
        expect(refused.length).toBeGreaterThan(0);
        return;
      }
      expect(refused).toEqual([]);
      // Each key after the first was published (created) at least the lead before it signed, and signed from then.
      const rows = await db.select().from(signingKeys);
      for (const kid of kids.slice(1)) {
        const row = rows.find((r) => r.kid === kid);
        if (!row) continue; // deleted: retired long ago
        expect(row.activateAt!.getTime() - row.createdAt.getTime()).toBeGreaterThanOrEqual(leadMs);
        expect(firstUse.get(kid)).toBeGreaterThanOrEqual(row.activateAt!.getTime());
        // What the emulated JWKS readers saw: published no later than one step after it was created.
        expect(seenPublished.get(kid)).toBeLessThanOrEqual(row.createdAt.getTime() + step);
      }
    });
  }

  it("keeps a superseded key published until its last token expires (plus the grace), then deletes it", async () => {
    const clock = fakeClock();
    const keys = ring(clock);
    const first = await keys.current();
    clock.advance(9 * HOUR); // the next key is created (rotation 10 h, lead 1 h)
    expect((await keys.current()).kid).toBe(first.kid);
    const [, pending] = (await keys.published()).map((k) => k.kid);
    expect(pending).toBe(first.kid); // newest first: the pending key, then the signing one
    clock.advance(HOUR);
    const second = await keys.current();
    expect(second.kid).not.toBe(first.kid);
    expect(second.activatesAt.getTime()).toBe(clock.at());
    // A token signed just before the switch lives 2 h; the old key outlives it by the grace.
    clock.advance(2 * HOUR + RETIREMENT_GRACE_MS - MINUTE);
    expect((await keys.published()).map((k) => k.kid)).toContain(first.kid);
    clock.advance(2 * MINUTE);
    expect((await keys.published()).map((k) => k.kid)).not.toContain(first.kid);
    // The next rotation deletes it.
    clock.advance(10 * HOUR);
    await keys.current();
    const stored = (await db.select({ kid: signingKeys.kid }).from(signingKeys)).map((r) => r.kid);
    expect(stored).not.toContain(first.kid);
  });

  it("seals keys stored in plain form, re-seals under a new KEK, and says clearly when the KEK is wrong", async () => {
    const clock = fakeClock();
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const kid = "legacy-key";
    const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" };
    await db.insert(signingKeys).values({
      kid,
      algorithm: "ES256",
      privateJwk,
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" },
      createdAt: clock.now(),
    });
    expect(await ring(clock).sealStoredKeys()).toBe(1);
    const [row] = await db.select().from(signingKeys);
    expect(row.privateJwk).toBeNull();
    expect((await sealer.open(kid, row.privateKeySealed!)).d).toBe(privateJwk.d);
    expect((await ring(clock).current()).kid).toBe(kid);

    const newKek = new Uint8Array(32).fill(4);
    const wrong = new SigningKeys(db, {
      rotationMs: 10 * HOUR,
      publishLeadMs: HOUR,
      accessTokenTtlSeconds: 7200,
      sealer: new KeySealer(newKek),
      now: clock.now,
    });
    await expect(wrong.current()).rejects.toThrow(KeySealingError);
    await expect(wrong.current()).rejects.toThrow(/SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS/);
    const rotating = new SigningKeys(db, {
      rotationMs: 10 * HOUR,
      publishLeadMs: HOUR,
      accessTokenTtlSeconds: 7200,
      sealer: new KeySealer(newKek, kek),
      now: clock.now,
    });
    expect(await rotating.sealStoredKeys()).toBe(1);
    expect((await wrong.current()).kid).toBe(kid);
    // A sealed key moved onto another row does not open.
    const [moved] = await db.select().from(signingKeys);
    await expect(new KeySealer(newKek).open("another-key", moved.privateKeySealed!)).rejects.toThrow(/found on/);
    await db.execute(sql`select 1`);
  });

  it("tells listeners when this replica switches keys", async () => {
    const clock = fakeClock();
    const replica = ring(clock);
    const seen: string[] = [];
    replica.onNewKey((key) => seen.push(key.kid));
    const first = await replica.current();
    await replica.current();
    clock.advance(9 * HOUR); // the next key is published...
    expect((await replica.current()).kid).toBe(first.kid);
    clock.advance(HOUR); // ...and signs an hour later
    const second = await replica.current();
    expect(seen).toEqual([first.kid, second.kid]);
  });
});
