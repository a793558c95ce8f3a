// What must never reach a log line: passwords, access/refresh tokens,
// authorization headers, card numbers, CVCs, card tokens, private keys.
//
// Two layers: pino's `redact` replaces these keys wherever a log call puts
// them (top level and up to three objects deep: `{ req: { headers: {
// authorization } } }`), and the `err` serializer strips the bound
// parameters drizzle copies into a failed query's message ("params: ..."),
// which can hold any of the above.
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

/** `key`, `*.key`, `*.*.key`, `*.*.*.key` for every secret key. */
export const REDACTED_PATHS: string[] = SECRET_KEYS.flatMap((key) =>
  [0, 1, 2, 3].map((depth) => `${"*.".repeat(depth)}${key}`),
);

export const REDACTION_CENSOR = "[redacted]";

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
