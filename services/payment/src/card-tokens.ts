// Single-use card tokens: issued by TokenizeCard, claimed by the order they
// pay for when its StockReserved arrives, marked used when that charge ends.
//
// Claiming binds the token to one order in the same short transaction that
// creates the order's payment, so two orders can never charge one token, while
// a retried or resumed charge of the same order still finds its card.
import { randomBytes } from "node:crypto";
import { and, eq, gt, isNotNull, isNull, lt } from "drizzle-orm";
import type { DbOrTx } from "@shop/runtime/events/outbox";
import { cardTokens, type CardTokenRow } from "./schema.ts";

export const CARD_TOKEN_TTL_MS = 30 * 60_000;

export interface NewCardToken {
  userId: string;
  cardNumber: string;
  brand: string;
  expMonth: number;
  expYear: number;
  now: Date;
}

export async function issueCardToken(db: DbOrTx, card: NewCardToken): Promise<CardTokenRow> {
  const [row] = await withoutCardData("storing a card token", () =>
    db
      .insert(cardTokens)
      .values({
        // 18 random bytes: 24 base64url characters, unguessable.
        token: `tok_${randomBytes(18).toString("base64url")}`,
        userId: card.userId,
        brand: card.brand,
        last4: card.cardNumber.slice(-4),
        cardNumber: card.cardNumber,
        expMonth: card.expMonth,
        expYear: card.expYear,
        createdAt: card.now,
        expiresAt: new Date(card.now.getTime() + CARD_TOKEN_TTL_MS),
      })
      .returning(),
  );
  return row;
}

/**
 * Binds a token to an order if it exists, belongs to the order's customer,
 * has not expired and has not been claimed or used; otherwise undefined.
 */
export async function claimCardToken(
  db: DbOrTx,
  claim: { token: string; userId: string; orderId: string; now: Date },
): Promise<CardTokenRow | undefined> {
  if (!claim.token) return undefined;
  const [row] = await withoutCardData("claiming a card token", () =>
    db
      .update(cardTokens)
      .set({ orderId: claim.orderId })
      .where(
        and(
          eq(cardTokens.token, claim.token),
          eq(cardTokens.userId, claim.userId),
          isNull(cardTokens.orderId),
          isNull(cardTokens.usedAt),
          gt(cardTokens.expiresAt, claim.now),
        ),
      )
      .returning(),
  );
  return row;
}

/** The token an order claimed, if it claimed one. */
export async function claimedCardToken(db: DbOrTx, orderId: string): Promise<CardTokenRow | undefined> {
  const [row] = await db.select().from(cardTokens).where(eq(cardTokens.orderId, orderId));
  return row;
}

/**
 * Marks the order's token used and erases its card number (in the
 * transaction that records the charge's final state): nothing charges with
 * it again, so the number need not be kept.
 */
export async function markCardTokenUsed(db: DbOrTx, orderId: string, at: Date): Promise<void> {
  await db
    .update(cardTokens)
    .set({ usedAt: at, cardNumber: null })
    .where(and(eq(cardTokens.orderId, orderId), isNull(cardTokens.usedAt)));
}

/** Erases the card numbers of tokens that expired without paying for an order. */
export async function eraseExpiredCardNumbers(db: DbOrTx, now: Date): Promise<number> {
  const erased = await db
    .update(cardTokens)
    .set({ cardNumber: null })
    .where(and(isNull(cardTokens.orderId), lt(cardTokens.expiresAt, now), isNotNull(cardTokens.cardNumber)))
    .returning({ token: cardTokens.token });
  return erased.length;
}

/**
 * Runs a query whose parameters include a card number or token. Failed
 * queries carry their parameters in the error message (drizzle) and key
 * values in the detail (Postgres), and errors get logged: rethrow a bare
 * error with the SQLSTATE only, so card data never reaches a log.
 */
async function withoutCardData<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    let code: unknown;
    for (let e: unknown = err; e instanceof Error && code === undefined; e = e.cause)
      code = (e as { code?: unknown }).code;
    // The code is kept (not the driver's error, which holds the card data):
    // a database outage must still read as one (Unavailable, see outages.ts).
    throw Object.assign(new Error(`${what} failed${typeof code === "string" ? ` (SQLSTATE ${code})` : ""}`), {
      code,
    });
  }
}
