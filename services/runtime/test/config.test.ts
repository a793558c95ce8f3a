// Start-up configuration errors must name the variable and the bad value.
import { z } from "zod";
import { describe, expect, it } from "vitest";
import { ConfigError, env, loadConfig } from "../src/config.ts";
import { STREAM_PREFIX, SUBJECT_PREFIX } from "../src/events/naming.ts";

const schema = z.object({
  PORT: env.port(7002),
  DATABASE_URL: env.url(),
  LOG_LEVEL: env.oneOf(["debug", "info", "warn"], "info"),
  OUTBOX_BATCH: env.int({ min: 1, max: 1000, default: 100 }),
  TRACING: env.bool(false),
});

describe("loadConfig", () => {
  it("parses and applies defaults", () => {
    expect(loadConfig(schema, { DATABASE_URL: "postgres://127.0.0.1/catalog", PORT: "6000", TRACING: "true" })).toEqual(
      {
        PORT: 6000,
        DATABASE_URL: "postgres://127.0.0.1/catalog",
        LOG_LEVEL: "info",
        OUTBOX_BATCH: 100,
        TRACING: true,
      },
    );
  });

  it("names the variable, the rule and the value it got", () => {
    expect(() => loadConfig(schema, { PORT: "abc", DATABASE_URL: "postgres://x/y" })).toThrow(
      'Invalid environment: PORT must be an integer between 1 and 65535 (got "abc")',
    );
    expect(() => loadConfig(schema, { PORT: "70000", DATABASE_URL: "postgres://x/y" })).toThrow(
      /PORT must be an integer/,
    );
  });

  it("never shows the credentials of a URL it cannot parse", () => {
    const broken = "postgres://shop:pa#ss@db:54a32/catalog";
    let message = "";
    try {
      loadConfig(schema, { DATABASE_URL: broken });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("DATABASE_URL must be a URL");
    expect(message).toContain("//***@db:54a32/catalog");
    expect(message).not.toContain("pa#ss");
  });

  it("reports every problem at once, missing variables included", () => {
    let error: unknown;
    try {
      loadConfig(schema, { LOG_LEVEL: "loud", OUTBOX_BATCH: "0" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      "DATABASE_URL is required",
      'LOG_LEVEL must be one of debug, info, warn (got "loud")',
      'OUTBOX_BATCH must be an integer between 1 and 1000 (got "0")',
    ]);
  });

  it("names the variable for plain zod schemas too", () => {
    expect(() => loadConfig(z.object({ REGION: z.string().min(2) }), { REGION: "x" })).toThrow(
      /^Invalid environment: REGION is invalid: .* \(got "x"\)$/,
    );
    expect(() => loadConfig(z.object({ REGION: z.string() }), {})).toThrow("Invalid environment: REGION is required");
  });
});

describe("env.bytes", () => {
  const sizes = z.object({ READ_MAX_BYTES: env.bytes({ min: 1024, max: 0xffffffff, default: 4 * 1024 * 1024 }) });

  it("takes plain bytes or a binary unit, and defaults when unset", () => {
    expect(loadConfig(sizes, {}).READ_MAX_BYTES).toBe(4 * 1024 * 1024);
    expect(loadConfig(sizes, { READ_MAX_BYTES: "65536" }).READ_MAX_BYTES).toBe(65536);
    expect(loadConfig(sizes, { READ_MAX_BYTES: "8MiB" }).READ_MAX_BYTES).toBe(8 * 1024 * 1024);
    expect(loadConfig(sizes, { READ_MAX_BYTES: "512 KiB" }).READ_MAX_BYTES).toBe(512 * 1024);
    expect(loadConfig(sizes, { READ_MAX_BYTES: "1gib" }).READ_MAX_BYTES).toBe(1024 ** 3);
  });

  it("refuses other units, fractions and sizes out of range, naming the variable", () => {
    for (const raw of ["4MB", "1.5MiB", "-1", "10", "8GiB", "lots"]) {
      expect(() => loadConfig(sizes, { READ_MAX_BYTES: raw }), raw).toThrow(
        `READ_MAX_BYTES must be a size in bytes between 1024 and 4294967295 (a number, or with KiB, MiB or GiB) (got ${JSON.stringify(raw)})`,
      );
    }
  });
});

describe("env.matching (the event naming variables)", () => {
  const naming = z.object({
    EVENTS_STREAM_PREFIX: env.matching(STREAM_PREFIX, "letters, digits, _ and -", "EVENTS"),
    EVENTS_SUBJECT_PREFIX: env.matching(SUBJECT_PREFIX, "dot-separated tokens of letters, digits, _ and -", "events"),
  });

  it("defaults when unset and keeps a valid value", () => {
    expect(loadConfig(naming, {})).toEqual({ EVENTS_STREAM_PREFIX: "EVENTS", EVENTS_SUBJECT_PREFIX: "events" });
    expect(loadConfig(naming, { EVENTS_SUBJECT_PREFIX: "t_ab.c" }).EVENTS_SUBJECT_PREFIX).toBe("t_ab.c");
  });

  it("names the variable and the value it got", () => {
    expect(() => loadConfig(naming, { EVENTS_STREAM_PREFIX: "A.B", EVENTS_SUBJECT_PREFIX: "a..b" })).toThrow(
      'Invalid environment: EVENTS_STREAM_PREFIX must be letters, digits, _ and - (got "A.B")',
    );
    expect(() => loadConfig(naming, { EVENTS_SUBJECT_PREFIX: "a..b" })).toThrow(
      'EVENTS_SUBJECT_PREFIX must be dot-separated tokens of letters, digits, _ and - (got "a..b")',
    );
  });
});
