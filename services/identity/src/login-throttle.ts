// Per-account sign-in throttling, with the counters in the database so that
// every replica sees the same state.
//
// An attempt counts as a failure *before* the password is checked, in one
// conditional UPDATE that also refuses while the account is locked; a correct
// password then resets the counter. So concurrent guesses cannot slip past
// the lock: once the fifth failure is counted, the row is locked for the
// others (Postgres re-checks the WHERE clause after waiting for the row).
// The fifth consecutive failure locks the account for 30 s; each further
// failure doubles the lock, up to 15 minutes.
import { and, eq, isNull, lte, or, sql } from "drizzle-orm";
import type { Database } from "@shop/runtime/db/database";
import * as schema from "./schema.ts";
import { users } from "./schema.ts";

export const FAILURES_BEFORE_LOCK = 5;
export const FIRST_LOCK_SECONDS = 30;
export const MAX_LOCK_SECONDS = 15 * 60;
/** 30 · 2^5 = 960 s is past the maximum: larger exponents only risk float overflow. */
const MAX_DOUBLINGS = 5;

export type AttemptClaim = { allowed: true } | { allowed: false; retryAfterSeconds: number };

type IdentityDatabase = Database<typeof schema>;

/** Counts an attempt for `userId`, unless the account is locked. */
export async function claimSignInAttempt(db: IdentityDatabase, userId: string): Promise<AttemptClaim> {
  const failures = sql`${users.failedLogins} + 1`;
  const claimed = (
    await db
      .update(users)
      .set({
        failedLogins: failures,
        lockedUntil: sql`case when ${failures} >= ${FAILURES_BEFORE_LOCK}
        then now() + least(${FIRST_LOCK_SECONDS} * power(2, least(${failures} - ${FAILURES_BEFORE_LOCK}, ${MAX_DOUBLINGS})), ${MAX_LOCK_SECONDS}) * interval '1 second'
        end`,
      })
      .where(and(eq(users.id, userId), or(isNull(users.lockedUntil), lte(users.lockedUntil, sql`now()`))))
      .returning({ id: users.id })
  ).at(0);
  if (claimed) return { allowed: true };
  const locked = (
    await db
      .select({ seconds: sql<number>`ceil(extract(epoch from ${users.lockedUntil} - now()))::int` })
      .from(users)
      .where(eq(users.id, userId))
  ).at(0);
  return { allowed: false, retryAfterSeconds: Math.max(1, locked?.seconds ?? 1) };
}

/** A correct password: the account starts afresh (and may get a stronger hash). */
export async function recordSignInSuccess(db: IdentityDatabase, userId: string, rehashed?: string): Promise<void> {
  await db
    .update(users)
    .set({ failedLogins: 0, lockedUntil: null, ...(rehashed ? { passwordHash: rehashed } : {}) })
    .where(eq(users.id, userId));
}
