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

describe("identity configuration", () => {
  it("defaults to 30-day key rotation, one-hour tokens and no admin", () => {
    expect(loadIdentityConfig({})).toEqual({
      keyRotationMs: 30 * 86_400_000,
      accessTokenTtlSeconds: 3600,
      admin: undefined,
    });
  });

  it("reads the admin account, lower-casing its email", () => {
    const config = loadIdentityConfig({
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
