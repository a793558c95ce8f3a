// What must never reach a log line: passwords, access/refresh tokens,
// authorization headers, card numbers, CVCs, card tokens, private keys.
//
// Two layers: redactSecrets replaces these keys wherever a log call puts
// them (top level and up to three objects deep: `{ req: { headers: {
// authorization } } }`), and the `err` serializer strips the bound
// parameters drizzle copies into a failed query's message ("params: ..."),
// which can hold any of the above.
//
// Why not pino's own `redact`: it takes paths, and "this key at any depth up
// to 4" is 88 wildcard paths, which cost ~70 µs per line, on every line,
// access log included (18% of a catalog GetProduct's CPU). One walk over
// the line's own plain objects does the same for ~1 µs.
import { pino } from "pino";

const SECRET_KEYS = [
  "password",
  "newPassword",
  "currentPassword",
  "passwordHash",
  "password_hash",
  "token",
  "accessToken",
  "access_token",
  "refreshToken",
  "refresh_token",
  "idToken",
  "authorization",
  "Authorization",
  "cookie",
  "cardNumber",
  "card_number",
  "cvc",
  "cardToken",
  "card_token",
  "privateKey",
  "private_key",
  "secret",
] as const;

const SECRETS: ReadonlySet<string> = new Set(SECRET_KEYS);
/** Objects nested this deep below the line are not searched (as `*.*.*.key` was the deepest path). */
const MAX_DEPTH = 3;
export const REDACTION_CENSOR = "[redacted]";

/**
 * `fields` (a log call's object) with every secret key censored, in plain
 * objects and arrays up to MAX_DEPTH below it. Copies only what it changes:
 * the caller's objects are never modified. Errors and other class instances
 * are left to their serializers (serializeError for `err`).
 */
export function redactSecrets(fields: Record<string, unknown>): Record<string, unknown> {
  return redactIn(fields, 0) as Record<string, unknown>;
}

function redactIn(value: unknown, depth: number): unknown {
  if (Array.isArray(value)) {
    if (depth > MAX_DEPTH) return value;
    const items: readonly unknown[] = value;
    let copy: unknown[] | undefined;
    items.forEach((item, i) => {
      const redacted = redactIn(item, depth + 1);
      if (redacted !== item) (copy ??= [...items])[i] = redacted;
    });
    return copy ?? value;
  }
  if (!isPlainObject(value) || depth > MAX_DEPTH) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const item = value[key];
    const redacted = SECRETS.has(key) ? REDACTION_CENSOR : redactIn(item, depth + 1);
    if (redacted !== item) (copy ??= { ...value })[key] = redacted;
  }
  return copy ?? value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Removes drizzle's "params: ..." line from an error text (message, stack, dead-letter reason). */
export function withoutQueryParameters(text: string): string {
  return text.replace(/^params: .*$/gm, `params: ${REDACTION_CENSOR}`);
}

/** pino's error serializer, minus query parameters anywhere in the error or its causes. */
export function serializeError(err: unknown): unknown {
  const serialized = pino.stdSerializers.err(err as Error) as unknown;
  return scrub(serialized, 0);
}

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === "string") return withoutQueryParameters(value);
  if (!value || typeof value !== "object" || depth > 4) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    // drizzle's DrizzleQueryError.params, postgres.js' parameters/args in debug mode.
    if (key === "params" || key === "parameters" || key === "args") continue;
    out[key] = scrub(v, depth + 1);
  }
  return out;
}
