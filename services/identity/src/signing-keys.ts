// The keys that sign access tokens, kept in identity's database so that every
// replica signs with the same key and publishes the same key set.
//
// - The newest key signs. When it is older than the rotation period, the first
//   replica that needs a key creates the next one, under a transaction-scoped
//   advisory lock so that replicas rotating at once create exactly one key.
// - A superseded key stays published (GetJwks) until every token it may have
//   signed has expired: its retire_after is the rotation time plus the token
//   lifetime plus a grace period that covers replicas still signing with it
//   (each re-reads the newest key at least every RECHECK_MS) and clock skew.
//   Rows past retire_after are deleted at the next rotation.
import { and, desc, gt, isNull, lt, or, sql } from "drizzle-orm";
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import type { Database } from "@shop/runtime/db/database";
import { TOKEN_ALGORITHM } from "@shop/runtime/tokens";
import { v7 as uuidv7 } from "uuid";
import * as schema from "./schema.ts";
import { signingKeys, type SigningKeyRow } from "./schema.ts";

/** Arbitrary constant: "identity key rotation" lock key (advisory locks are per database). */
const ROTATION_LOCK_KEY = "4512301977208113";
/** How often a replica looks for a key another replica created. */
const RECHECK_MS = 60_000;
const RETIREMENT_GRACE_SECONDS = 5 * 60;

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly createdAt: Date;
}

export interface SigningKeysOptions {
  rotationMs: number;
  accessTokenTtlSeconds: number;
}

export class SigningKeys {
  #active: { key: SigningKey; checkedAt: number } | undefined;
  #loading: Promise<SigningKey> | undefined;
  readonly #listeners: ((key: SigningKey) => void)[] = [];

  constructor(
    private readonly db: Database<typeof schema>,
    private readonly options: SigningKeysOptions,
  ) {}

  /** The key to sign new tokens with; creates the next one when rotation is due. */
  current(): Promise<SigningKey> {
    const active = this.#active;
    const now = Date.now();
    if (
      active &&
      now - active.key.createdAt.getTime() < this.options.rotationMs &&
      now - active.checkedAt < RECHECK_MS
    ) {
      return Promise.resolve(active.key);
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

  /** Public keys that may have signed a still-valid token, newest first. */
  async published(): Promise<JWK[]> {
    const rows = await this.db
      .select({ publicJwk: signingKeys.publicJwk })
      .from(signingKeys)
      .where(or(isNull(signingKeys.retireAfter), gt(signingKeys.retireAfter, sql`now()`)))
      .orderBy(desc(signingKeys.createdAt), desc(signingKeys.kid));
    return rows.map((r) => r.publicJwk);
  }

  async #load(): Promise<SigningKey> {
    const row = (await this.#newestFresh(this.db)) ?? (await this.#rotate());
    const previous = this.#active?.key;
    const key =
      previous?.kid === row.kid
        ? previous
        : {
            kid: row.kid,
            createdAt: row.createdAt,
            privateKey: (await importJWK(row.privateJwk, TOKEN_ALGORITHM)) as CryptoKey,
          };
    this.#active = { key, checkedAt: Date.now() };
    if (key !== previous) for (const listener of this.#listeners) listener(key);
    return key;
  }

  /** The newest key, if it is younger than the rotation period (by the database's clock). */
  async #newestFresh(db: Pick<Database<typeof schema>, "select">): Promise<SigningKeyRow | undefined> {
    const [row] = await db
      .select()
      .from(signingKeys)
      .where(
        and(
          isNull(signingKeys.retireAfter),
          gt(signingKeys.createdAt, sql`now() - ${this.options.rotationMs} * interval '1 millisecond'`),
        ),
      )
      .orderBy(desc(signingKeys.createdAt))
      .limit(1);
    return row;
  }

  async #rotate(): Promise<SigningKeyRow> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${sql.raw(ROTATION_LOCK_KEY)})`);
      // Another replica may have rotated while this one waited for the lock.
      const fresh = await this.#newestFresh(tx);
      if (fresh) return fresh;

      const kid = uuidv7();
      const { privateKey, publicKey } = await generateKeyPair(TOKEN_ALGORITHM, { extractable: true });
      const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: TOKEN_ALGORITHM, use: "sig" };
      const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: TOKEN_ALGORITHM, use: "sig" };

      const retiringSeconds = this.options.accessTokenTtlSeconds + RETIREMENT_GRACE_SECONDS;
      await tx.delete(signingKeys).where(lt(signingKeys.retireAfter, sql`now()`));
      await tx
        .update(signingKeys)
        .set({ retireAfter: sql`now() + ${retiringSeconds} * interval '1 second'` })
        .where(isNull(signingKeys.retireAfter));
      const [row] = await tx
        .insert(signingKeys)
        .values({ kid, algorithm: TOKEN_ALGORITHM, privateJwk, publicJwk })
        .returning();
      return row;
    });
  }
}
