// identity's environment: defaults, and refusals that name the variable
// without ever echoing the admin password.
import { ConfigError } from "@shop/runtime/config";
import { describe, expect, it } from "vitest";
import { loadIdentityConfig } from "../src/config.ts";

function problemsOf(env: Record<string, string>): string {
  try {
    loadIdentityConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error("expected a ConfigError");
}

const KEK = Buffer.alloc(32, 1).toString("base64");
const OLD_KEK = Buffer.alloc(32, 2).toString("base64");

describe("identity configuration", () => {
  it("defaults to 30-day key rotation, keys published 30 minutes before they sign, one-hour tokens and no admin", () => {
    expect(loadIdentityConfig({ SIGNING_KEY_ENCRYPTION_KEY: KEK })).toEqual({
      keyRotationMs: 30 * 86_400_000,
      keyPublishLeadMs: 30 * 60_000,
      kek: { current: new Uint8Array(Buffer.alloc(32, 1)), previous: undefined },
      accessTokenTtlSeconds: 3600,
      admin: undefined,
    });
  });

  it("needs a 32-byte key-encryption key, and never shows it", () => {
    expect(problemsOf({})).toContain("SIGNING_KEY_ENCRYPTION_KEY is required");
    const short = Buffer.alloc(16, 3).toString("base64");
    const message = problemsOf({ SIGNING_KEY_ENCRYPTION_KEY: short });
    expect(message).toContain("SIGNING_KEY_ENCRYPTION_KEY must be 32 bytes in base64");
    expect(message).not.toContain(short);
    expect(problemsOf({ SIGNING_KEY_ENCRYPTION_KEY: KEK, SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS: "nope" })).toContain(
      "SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS must be 32 bytes",
    );
    const rotating = loadIdentityConfig({
      SIGNING_KEY_ENCRYPTION_KEY: KEK,
      SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS: OLD_KEK,
    });
    expect(rotating.kek.previous).toEqual(new Uint8Array(Buffer.alloc(32, 2)));
  });

  it("refuses a publish lead as long as the rotation period", () => {
    expect(
      problemsOf({ SIGNING_KEY_ENCRYPTION_KEY: KEK, KEY_ROTATION_DAYS: "0.01", KEY_PUBLISH_LEAD_SECONDS: "864" }),
    ).toContain("KEY_PUBLISH_LEAD_SECONDS must be shorter than KEY_ROTATION_DAYS");
  });

  it("reads the admin account, lower-casing its email", () => {
    const config = loadIdentityConfig({
      SIGNING_KEY_ENCRYPTION_KEY: KEK,
      ADMIN_EMAIL: "Ops@Shop.Test",
      ADMIN_PASSWORD: "a long admin password",
      KEY_ROTATION_DAYS: "0.5",
    });
    expect(config.admin).toEqual({ email: "ops@shop.test", password: "a long admin password" });
    expect(config.keyRotationMs).toBe(43_200_000);
  });

  it("names the variable that is wrong", () => {
    expect(problemsOf({ KEY_ROTATION_DAYS: "soon" })).toContain("KEY_ROTATION_DAYS must be a positive number of days");
    expect(problemsOf({ KEY_ROTATION_DAYS: "-1" })).toContain("KEY_ROTATION_DAYS");
    expect(problemsOf({ ACCESS_TOKEN_TTL_SECONDS: "0" })).toContain("ACCESS_TOKEN_TTL_SECONDS must be an integer");
    expect(problemsOf({ ADMIN_EMAIL: "not-an-email", ADMIN_PASSWORD: "a long admin password" })).toContain(
      "ADMIN_EMAIL must be an email address",
    );
    expect(problemsOf({ ADMIN_EMAIL: "ops@shop.test" })).toContain(
      "ADMIN_PASSWORD is required when ADMIN_EMAIL is set",
    );
    expect(problemsOf({ ADMIN_PASSWORD: "a long admin password" })).toContain(
      "ADMIN_EMAIL is required when ADMIN_PASSWORD is set",
    );
  });

  it("applies the password policy to ADMIN_PASSWORD without showing it", () => {
    for (const password of ["short-pw", "zzzzzzzzzzzzzz", "ops@shop.test"]) {
      const message = problemsOf({ ADMIN_EMAIL: "ops@shop.test", ADMIN_PASSWORD: password });
      expect(message).toContain("ADMIN_PASSWORD must");
      expect(message).not.toContain(password);
    }
  });
});
