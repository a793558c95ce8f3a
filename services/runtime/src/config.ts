// Configuration from environment variables, validated once at start-up.
//
// Why: a service that starts with a bad PORT or DATABASE_URL should refuse to
// start with a message naming the variable, not fail later with a stack trace
// from deep inside a driver. Services declare a zod object whose keys are the
// variable names, built from the env.* helpers below (or any zod schema).
import { z } from "zod";

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`Invalid environment: ${problems.join("; ")}`);
  }
}

type Env = Record<string, string | undefined>;

/**
 * Validates `source` (default process.env) against `schema`. Throws a
 * ConfigError such as `Invalid environment: PORT must be an integer between 1
 * and 65535 (got "abc")`.
 */
export function loadConfig<S extends z.ZodType>(schema: S, source: Env = process.env): z.output<S> {
  const result = schema.safeParse(source);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.map(String).join(".");
    const raw = issue.path.length === 1 ? source[String(issue.path[0])] : undefined;
    // The env.* helpers phrase messages to follow the variable's name.
    const message = /^(must|is) /.test(issue.message)
      ? issue.message
      : raw === undefined
        ? "is required"
        : `is invalid: ${issue.message}`;
    return `${name} ${message}${raw === undefined ? "" : ` (got ${JSON.stringify(withoutCredentials(raw))})`}`;
  });
  throw new ConfigError(problems);
}

/** A value as it may be shown in an error: URL credentials (user:password@) hidden. */
export function withoutCredentials(raw: string): string {
  return raw.replace(/\/\/[^@/\s]*@/, "//***@");
}

/** A variable parsed by `parse`; empty counts as unset, so `FOO=` falls back to the default. */
function variable<T>(parse: (raw: string) => T | undefined, expectation: string, fallback?: T) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): T => {
      if (raw === undefined || raw === "") {
        if (fallback !== undefined) return fallback;
        ctx.addIssue({ code: "custom", message: "is required" });
        return z.NEVER;
      }
      const value = parse(raw);
      if (value === undefined) {
        ctx.addIssue({ code: "custom", message: `must be ${expectation}` });
        return z.NEVER;
      }
      return value;
    });
}

function integer(raw: string, min: number, max: number): number | undefined {
  if (!/^-?\d+$/.test(raw.trim())) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}

const BYTE_UNITS: Record<string, number> = { "": 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** "4194304", "4MiB", "512 KiB": a whole number of bytes, or undefined. */
function byteSize(raw: string, min: number, max: number): number | undefined {
  const match = /^(?<count>\d+)\s*(?<unit>(?:[kmg]i)?b?)$/i.exec(raw.trim());
  if (!match?.groups) return undefined;
  const unit = BYTE_UNITS[match.groups.unit.toLowerCase()] as number | undefined;
  if (unit === undefined) return undefined;
  const n = Number(match.groups.count) * unit;
  return n >= min && n <= max ? n : undefined;
}

/** Schema builders for single variables; each message reads after the name. */
export const env = {
  string: (fallback?: string) => variable((raw) => raw, "a non-empty string", fallback),
  port: (fallback?: number) => variable((raw) => integer(raw, 1, 65535), "an integer between 1 and 65535", fallback),
  int: (opts: { min?: number; max?: number; default?: number } = {}) => {
    const min = opts.min ?? Number.MIN_SAFE_INTEGER;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    const range =
      opts.min !== undefined && opts.max !== undefined
        ? ` between ${min} and ${max}`
        : opts.min !== undefined
          ? ` of at least ${min}`
          : opts.max !== undefined
            ? ` of at most ${max}`
            : "";
    return variable((raw) => integer(raw, min, max), `an integer${range}`, opts.default);
  },
  /** A size in bytes, plain or with a binary unit: 4194304, 4MiB, 512KiB. */
  bytes: (opts: { min: number; max: number; default?: number }) =>
    variable(
      (raw) => byteSize(raw, opts.min, opts.max),
      `a size in bytes between ${String(opts.min)} and ${String(opts.max)} (a number, or with KiB, MiB or GiB)`,
      opts.default,
    ),
  url: (fallback?: string) =>
    variable((raw) => (URL.canParse(raw) ? raw : undefined), "a URL such as http://127.0.0.1:7001", fallback),
  bool: (fallback?: boolean) =>
    variable(
      (raw) => ({ true: true, "1": true, false: false, "0": false })[raw.trim().toLowerCase()],
      "true or false",
      fallback,
    ),
  /** A string matching `pattern`, described in words for the error. */
  matching: (pattern: RegExp, description: string, fallback?: string) =>
    variable((raw) => (pattern.test(raw) ? raw : undefined), description, fallback),
  oneOf: <const T extends string>(values: readonly T[], fallback?: T) =>
    variable(
      (raw) => ((values as readonly string[]).includes(raw) ? (raw as T) : undefined),
      `one of ${values.join(", ")}`,
      fallback,
    ),
};
