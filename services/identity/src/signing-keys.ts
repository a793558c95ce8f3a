// The keys that sign access tokens, kept in identity's database (sealed with
// the key-encryption key, key-sealing.ts) so that every replica signs with
// the same key and publishes the same key set.
//
// A key's life, with P = publishLeadMs, R = rotationMs, T = token lifetime:
//
//   created     published in the JWKS; does not sign yet
//   +P          activates: signs every new token (the previous key stops)
//   +R - P      the next key is created (the first replica to need a key
//               after that moment does it, under an advisory lock)
//   +R          the next key activates; this one keeps being published
//   +R+T+grace  until every token it signed has expired, then it is deleted
//
// P must cover everyone who caches the key set: istiod re-reads the JWKS of
// a RequestAuthentication every PILOT_JWT_PUB_KEY_REFRESH_INTERVAL (20 min by
// default) and the gateway caches what it serves; a token signed with a key
// the edge has not fetched yet is refused with 401. The mesh generator sets
// KEY_PUBLISH_LEAD_SECONDS to istiod's interval plus the gateway's cache.
// Each replica re-reads the key rows at least every RECHECK_MS, far less than
// P, so it learns of the next key long before it activates and switches at
// its activation time by its own clock; the grace covers clock skew.
//
// The very first key activates at once: no token exists yet, and nothing
// could have cached an earlier key set.
import { and, asc, desc, eq, gt, isNull, lt, or } from "drizzle-orm";
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import { sql } from "drizzle-orm";
import type { Database } from "@shop/runtime/db/database";
import { TOKEN_ALGORITHM } from "@shop/runtime/tokens";
import { v7 as uuidv7 } from "uuid";
import type { KeySealer } from "./key-sealing.ts";
import * as schema from "./schema.ts";
import { signingKeys, type SigningKeyRow } from "./schema.ts";

/** Arbitrary constant: "identity key rotation" lock key (advisory locks are per database). */
const ROTATION_LOCK_KEY = "4512301977208113";
/** How often a replica re-reads the key rows (a key another replica created). */
export const RECHECK_MS = 60_000;
/** Beyond a retired key's last token: replicas' recheck and clock skew. */
export const RETIREMENT_GRACE_MS = 5 * 60_000;

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  /** When it started signing. */
  readonly activatesAt: Date;
}

export interface SigningKeysOptions {
  /** How long a key signs before the next one takes over. */
  rotationMs: number;
  /** How long a key is published before it signs (see above). */
  publishLeadMs: number;
  accessTokenTtlSeconds: number;
  sealer: KeySealer;
  /** The time; tests pass a fake clock. */
  now?: () => Date;
}

type Row = SigningKeyRow & { activates: Date };

export class SigningKeys {
  #rows: { rows: Row[]; readAt: number } | undefined;
  #signing: SigningKey | undefined;
  #loading: Promise<SigningKey> | undefined;
  readonly #listeners: ((key: SigningKey) => void)[] = [];
  readonly #now: () => Date;

  constructor(
    private readonly db: Database<typeof schema>,
    private readonly options: SigningKeysOptions,
  ) {
    if (options.publishLeadMs >= options.rotationMs) {
      throw new Error("the publish lead must be shorter than the rotation period");
    }
    this.#now = options.now ?? (() => new Date());
  }

  /** The key to sign new tokens with now. */
  current(): Promise<SigningKey> {
    const now = this.#now().getTime();
    const cached = this.#rows;
    if (cached && now - cached.readAt < RECHECK_MS && !this.#rotationDue(cached.rows, now)) {
      const row = activeRow(cached.rows, now);
      if (row && this.#signing?.kid === row.kid) return Promise.resolve(this.#signing);
    }
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  /** Called whenever this replica starts signing with a different key. */
  onNewKey(listener: (key: SigningKey) => void): void {
    this.#listeners.push(listener);
  }

  /** Public keys of every key that may sign soon or may have signed a still-valid token, newest first. */
  async published(): Promise<JWK[]> {
    const now = this.#now();
    const rows = await this.db
      .select({ publicJwk: signingKeys.publicJwk })
      .from(signingKeys)
      .where(or(isNull(signingKeys.retireAfter), gt(signingKeys.retireAfter, now)))
      .orderBy(desc(signingKeys.createdAt), desc(signingKeys.kid));
    return rows.map((r) => r.publicJwk);
  }

  /** Seals rows written before private keys were sealed, and re-seals those under an old KEK. */
  async sealStoredKeys(): Promise<number> {
    const rows = await this.db.select().from(signingKeys);
    let changed = 0;
    for (const row of rows) {
      const jwk = row.privateKeySealed
        ? this.options.sealer.isStale(row.privateKeySealed)
          ? await this.options.sealer.open(row.kid, row.privateKeySealed)
          : undefined
        : row.privateJwk;
      if (!jwk) continue;
      await this.db
        .update(signingKeys)
        .set({ privateKeySealed: await this.options.sealer.seal(row.kid, jwk), privateJwk: null })
        .where(eq(signingKeys.kid, row.kid));
      changed++;
    }
    return changed;
  }

  async #load(): Promise<SigningKey> {
    let rows = await this.#readRows(this.db);
    if (rows.length === 0 || this.#rotationDue(rows, this.#now().getTime())) rows = await this.#rotate();
    // After a rotation: the first key activates at the moment it was created.
    const now = this.#now().getTime();
    this.#rows = { rows, readAt: now };
    const row = activeRow(rows, now);
    // A rotation makes a key that activates when it is created, so one is always active.
    if (!row) throw new Error("no signing key is active yet");
    const previous = this.#signing;
    if (previous?.kid === row.kid) return previous;
    const jwk = row.privateKeySealed
      ? await this.options.sealer.open(row.kid, row.privateKeySealed)
      : (row.privateJwk ?? undefined);
    if (!jwk) throw new Error(`signing key ${row.kid} has no private key`);
    const key: SigningKey = {
      kid: row.kid,
      activatesAt: row.activates,
      privateKey: (await importJWK(jwk, TOKEN_ALGORITHM)) as CryptoKey,
    };
    this.#signing = key;
    for (const listener of this.#listeners) listener(key);
    return key;
  }

  /** Keys not retired, oldest activation first. */
  async #readRows(db: Pick<Database<typeof schema>, "select">): Promise<Row[]> {
    const rows = await db
      .select()
      .from(signingKeys)
      .where(or(isNull(signingKeys.retireAfter), gt(signingKeys.retireAfter, this.#now())))
      .orderBy(asc(signingKeys.createdAt));
    return rows
      .map((r) => ({ ...r, activates: r.activateAt ?? r.createdAt }))
      .sort((a, b) => a.activates.getTime() - b.activates.getTime());
  }

  /** True when no key exists, or the next key should exist by now and does not. */
  #rotationDue(rows: Row[], now: number): boolean {
    const newest = rows.at(-1);
    if (!newest) return true;
    if (newest.activates.getTime() > now) return false; // the next key is already published
    return now >= newest.activates.getTime() + this.options.rotationMs - this.options.publishLeadMs;
  }

  async #rotate(): Promise<Row[]> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${sql.raw(ROTATION_LOCK_KEY)})`);
      const now = this.#now();
      // Another replica may have rotated while this one waited for the lock.
      const rows = await this.#readRows(tx);
      if (rows.length > 0 && !this.#rotationDue(rows, now.getTime())) return rows;

      const newest = rows.at(-1);
      const activates = newest
        ? new Date(
            Math.max(now.getTime() + this.options.publishLeadMs, newest.activates.getTime() + this.options.rotationMs),
          )
        : now;
      const kid = uuidv7();
      const { privateKey, publicKey } = await generateKeyPair(TOKEN_ALGORITHM, { extractable: true });
      const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: TOKEN_ALGORITHM, use: "sig" };
      const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: TOKEN_ALGORITHM, use: "sig" };

      await tx.delete(signingKeys).where(lt(signingKeys.retireAfter, now));
      // Keys still unretired stop signing when the new one activates; their tokens live on for a lifetime.
      const retireAfter = new Date(
        activates.getTime() + this.options.accessTokenTtlSeconds * 1000 + RETIREMENT_GRACE_MS,
      );
      await tx
        .update(signingKeys)
        .set({ retireAfter })
        .where(and(isNull(signingKeys.retireAfter)));
      await tx.insert(signingKeys).values({
        kid,
        algorithm: TOKEN_ALGORITHM,
        privateKeySealed: await this.options.sealer.seal(kid, privateJwk),
        publicJwk,
        createdAt: now,
        activateAt: activates,
      });
      return this.#readRows(tx);
    });
  }
}

/** The key that signs at `now`: the latest activated one. */
function activeRow(rows: Row[], now: number): Row | undefined {
  return rows.filter((r) => r.activates.getTime() <= now).at(-1);
}
