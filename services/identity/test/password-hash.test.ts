// The scrypt encoding: parameters travel with the hash, verification is
// constant-time, and weaker hashes are flagged for an upgrade.
import { randomBytes, scryptSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CURRENT_PARAMETERS, hashPassword, needsRehash, verifyPassword } from "../src/password-hash.ts";
import { passwordProblem } from "../src/password-policy.ts";

describe("password hashes", () => {
  it("encode scrypt$N$r$p$salt$hash with a 16-byte salt and a 32-byte key", async () => {
    const hash = await hashPassword("correct horse battery staple");
    const [kdf, N, r, p, salt, key] = hash.split("$");
    expect([kdf, N, r, p]).toEqual(["scrypt", "32768", "8", "1"]);
    expect(Buffer.from(salt, "base64")).toHaveLength(16);
    expect(Buffer.from(key, "base64")).toHaveLength(32);
    expect(await hashPassword("correct horse battery staple")).not.toBe(hash);
    expect(await verifyPassword("correct horse battery staple", hash)).toBe(true);
    expect(await verifyPassword("correct horse battery stapler", hash)).toBe(false);
    expect(needsRehash(hash)).toBe(false);
  });

  it("verify hashes made with older parameters and flag them for rehashing", async () => {
    const salt = randomBytes(16);
    const key = scryptSync("an older password", salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const old = ["scrypt", 2 ** 14, 8, 1, salt.toString("base64"), key.toString("base64")].join("$");
    expect(await verifyPassword("an older password", old)).toBe(true);
    expect(needsRehash(old)).toBe(true);
    expect(CURRENT_PARAMETERS.N).toBeGreaterThan(2 ** 14);
  });
});

describe("the password policy", () => {
  it("refuses the email itself and one repeated character, and accepts the rest", () => {
    expect(passwordProblem("Ada@Shop.test", "ada@shop.test")).toBe("must not be the email address");
    expect(passwordProblem("xxxxxxxxxxxx", "ada@shop.test")).toBe("must not be one character repeated");
    expect(passwordProblem("🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑", "ada@shop.test")).toBe("must not be one character repeated");
    expect(passwordProblem("xxxxxxxxxxxy", "ada@shop.test")).toBeUndefined();
    expect(passwordProblem("correct horse battery staple", "ada@shop.test")).toBeUndefined();
  });
});
