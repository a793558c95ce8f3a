// identity's tables: users with their credentials and sign-in throttling
// state, and the keys that sign access tokens.
import { sql } from "drizzle-orm";
import { check, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import type { JWK } from "jose";

export const role = pgEnum("role", ["customer", "admin"]);

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey(),
    /** Stored lower-cased, so the unique constraint is case-insensitive. */
    email: text("email").notNull().unique(),
    displayName: text("display_name").notNull(),
    role: role("role").notNull().default("customer"),
    /** `scrypt$N$r$p$salt$hash` (see password-hash.ts). */
    passwordHash: text("password_hash").notNull(),
    /** Failed sign-ins since the last success (login-throttle.ts). */
    failedLogins: integer("failed_logins").notNull().default(0),
    /** Sign-ins are refused until then. */
    lockedUntil: timestamp("locked_until", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check("users_email_lower_case", sql`${t.email} = lower(${t.email})`)],
);

export const signingKeys = pgTable(
  "signing_keys",
  {
    /** The JWT header `kid`. */
    kid: text("kid").primaryKey(),
    algorithm: text("algorithm").notNull(),
    /**
     * Only in rows written before private keys were sealed; identity seals
     * them (and clears this) at start-up, so no private key stays in plain form.
     */
    privateJwk: jsonb("private_jwk").$type<JWK>(),
    /** The private JWK, encrypted with the key-encryption key: a compact JWE (dir, A256GCM). See key-sealing.ts. */
    privateKeySealed: text("private_key_sealed"),
    publicJwk: jsonb("public_jwk").$type<JWK>().notNull(),
    /** Published (in the JWKS) from then on. */
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** Signs from then on (until a newer key does); null in old rows: since created_at. */
    activateAt: timestamp("activate_at", { withTimezone: true }),
    /**
     * Null while the key is the newest. Set when a newer key supersedes it, to
     * when the last token it may have signed expires: until then the key stays
     * in the JWKS, after that it is deleted.
     */
    retireAfter: timestamp("retire_after", { withTimezone: true }),
  },
  (t) => [index("signing_keys_created_at_idx").on(t.createdAt)],
);

export type UserRow = typeof users.$inferSelect;
export type SigningKeyRow = typeof signingKeys.$inferSelect;
