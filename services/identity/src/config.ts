// identity's own environment, validated at start-up so that a bad value stops
// the service with a message naming the variable (the runtime's ConfigError).
import { ConfigError, env, loadConfig } from "@shop/runtime/config";
import { z } from "zod";
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
  /** Lifetime of access tokens. */
  ACCESS_TOKEN_TTL_SECONDS: env.int({ min: 1, max: 7 * 24 * 3600, default: 3600 }),
  /** With ADMIN_PASSWORD: the admin account created (or updated) at start-up. */
  ADMIN_EMAIL: z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw === "" ? undefined : raw.trim().toLowerCase()))
    .pipe(
      z
        .email({ message: "must be an email address" })
        .max(254, { message: "must be at most 254 characters" })
        .optional(),
    ),
});

export interface IdentityConfig {
  keyRotationMs: number;
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
    const length = [...password].length;
    const problem =
      length < 10
        ? "must be at least 10 characters"
        : length > 128
          ? "must be at most 128 characters"
          : passwordProblem(password, email ?? "");
    if (problem) problems.push(`ADMIN_PASSWORD ${problem} (value not shown)`);
  }
  if (problems.length > 0 || !settings) throw new ConfigError(problems);
  return {
    keyRotationMs: settings.KEY_ROTATION_DAYS * 24 * 3600 * 1000,
    accessTokenTtlSeconds: settings.ACCESS_TOKEN_TTL_SECONDS,
    admin:
      settings.ADMIN_EMAIL !== undefined && password !== undefined
        ? { email: settings.ADMIN_EMAIL, password }
        : undefined,
  };
}
