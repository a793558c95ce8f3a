// identity's own environment, validated at start-up so that a bad value stops
// the service with a message naming the variable (the runtime's ConfigError).
import { ConfigError, env, loadConfig } from "@shop/runtime/config";
import { z } from "zod";
import { parseKek } from "./key-sealing.ts";
import { passwordProblem } from "./password-policy.ts";

type Env = Record<string, string | undefined>;

/** Days as a positive decimal, so that tests can rotate keys every few seconds. */
const positiveDays = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === "") return fallback;
      const days = Number(raw);
      if (!Number.isFinite(days) || days <= 0) {
        ctx.addIssue({ code: "custom", message: "must be a positive number of days, such as 30 or 0.5" });
        return z.NEVER;
      }
      return days;
    });

const publicSettingsSchema = z.object({
  /** A new signing key is created when the newest one is older than this. */
  KEY_ROTATION_DAYS: positiveDays(30),
  /**
   * How long a new signing key is in the JWKS before it signs: at least the
   * mesh's JWKS refresh interval (istiod: 20 min) plus the gateway's cache.
   */
  KEY_PUBLISH_LEAD_SECONDS: env.int({ min: 0, max: 7 * 24 * 3600, default: 30 * 60 }),
  /** Lifetime of access tokens. */
  ACCESS_TOKEN_TTL_SECONDS: env.int({ min: 1, max: 7 * 24 * 3600, default: 3600 }),
  /** With ADMIN_PASSWORD: the admin account created (or updated) at start-up. */
  ADMIN_EMAIL: z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw === "" ? undefined : raw.trim().toLowerCase()))
    .pipe(
      z.email({ error: "must be an email address" }).max(254, { error: "must be at most 254 characters" }).optional(),
    ),
});

export interface IdentityConfig {
  keyRotationMs: number;
  keyPublishLeadMs: number;
  /** The key-encryption key (SIGNING_KEY_ENCRYPTION_KEY) and, while rotating it, the previous one. */
  kek: { current: Uint8Array; previous: Uint8Array | undefined };
  accessTokenTtlSeconds: number;
  admin: { email: string; password: string } | undefined;
}

export function loadIdentityConfig(source: Env): IdentityConfig {
  const problems: string[] = [];
  let settings: z.output<typeof publicSettingsSchema> | undefined;
  try {
    settings = loadConfig(publicSettingsSchema, source);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  // Checked here rather than by loadConfig, whose messages quote the value.
  const password = source.ADMIN_PASSWORD || undefined;
  const email = source.ADMIN_EMAIL || undefined;
  if (email !== undefined && password === undefined)
    problems.push("ADMIN_PASSWORD is required when ADMIN_EMAIL is set");
  if (password !== undefined && email === undefined)
    problems.push("ADMIN_EMAIL is required when ADMIN_PASSWORD is set");
  if (password !== undefined) {
    // Code points, as the contract's min_len/max_len (protovalidate) count them.
    // eslint-disable-next-line @typescript-eslint/no-misused-spread
    const length = [...password].length;
    const problem =
      length < 10
        ? "must be at least 10 characters"
        : length > 128
          ? "must be at most 128 characters"
          : passwordProblem(password, email ?? "");
    if (problem) problems.push(`ADMIN_PASSWORD ${problem} (value not shown)`);
  }
  // Secrets: named, never quoted.
  const kekOf = (name: string, required: boolean): Uint8Array | undefined => {
    const raw = source[name] || undefined;
    if (raw === undefined) {
      if (required)
        problems.push(
          `${name} is required: 32 random bytes in base64 (e.g. \`openssl rand -base64 32\`) that encrypt the stored signing keys`,
        );
      return undefined;
    }
    const kek = parseKek(raw);
    if (!kek) problems.push(`${name} must be 32 bytes in base64, 44 characters ending in = (value not shown)`);
    return kek;
  };
  const current = kekOf("SIGNING_KEY_ENCRYPTION_KEY", true);
  const previous = kekOf("SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS", false);
  if (settings && settings.KEY_PUBLISH_LEAD_SECONDS * 1000 >= settings.KEY_ROTATION_DAYS * 24 * 3600 * 1000)
    problems.push("KEY_PUBLISH_LEAD_SECONDS must be shorter than KEY_ROTATION_DAYS");
  if (problems.length > 0 || !settings || !current) throw new ConfigError(problems);
  return {
    keyRotationMs: settings.KEY_ROTATION_DAYS * 24 * 3600 * 1000,
    keyPublishLeadMs: settings.KEY_PUBLISH_LEAD_SECONDS * 1000,
    kek: { current, previous },
    accessTokenTtlSeconds: settings.ACCESS_TOKEN_TTL_SECONDS,
    admin:
      settings.ADMIN_EMAIL !== undefined && password !== undefined
        ? { email: settings.ADMIN_EMAIL, password }
        : undefined,
  };
}
