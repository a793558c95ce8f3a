// TokenVerifier remembers verified tokens, but never past what verifying
// again would say: not after the token's exp, not after the key set changed.
import { Code, ConnectError } from "@connectrpc/connect";
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { TOKEN_ALGORITHM, TokenVerifier } from "../src/tokens.ts";

const settings = { issuer: "https://identity.test", audience: "shop.test" };

async function signingKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(TOKEN_ALGORITHM, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: TOKEN_ALGORITHM, use: "sig" };
  const sign = (expiresInSeconds: number) =>
    new SignJWT({ role: "customer" })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid })
      .setSubject("user-1")
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
      .sign(privateKey);
  return { jwk, sign };
}

async function codeOf(call: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call;
    return "ok";
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe("TokenVerifier's cache of verified tokens", () => {
  it("does not accept a token after its exp, though it verified it before", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const key = await signingKey("k1");
    const verifier = new TokenVerifier({ settings, fetchKeys: () => Promise.resolve({ keys: [key.jwk] }) });
    const token = await key.sign(60);
    expect((await verifier.verify(token)).subject).toBe("user-1");
    expect((await verifier.verify(token)).subject).toBe("user-1");
    vi.setSystemTime(Date.now() + 61_000);
    expect(await codeOf(verifier.verify(token))).toBe(Code.Unauthenticated);
  });

  it("forgets what it verified when the key set is fetched again: a withdrawn key vouches for nothing", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const old = await signingKey("old");
    const current = await signingKey("current");
    let published: JSONWebKeySet = { keys: [old.jwk, current.jwk] };
    const verifier = new TokenVerifier({
      settings,
      fetchKeys: () => Promise.resolve(published),
      refreshIntervalMs: 60_000,
    });
    const token = await old.sign(3600);
    expect(await codeOf(verifier.verify(token))).toBe("ok");
    published = { keys: [current.jwk] };
    // Until the next refresh the old key is still the verifier's, with or without the cache.
    expect(await codeOf(verifier.verify(token))).toBe("ok");
    vi.setSystemTime(Date.now() + 61_000);
    expect(await codeOf(verifier.verify(token))).toBe(Code.Unauthenticated);
    expect(await codeOf(verifier.verify(await current.sign(3600)))).toBe("ok");
  });

  it("with cacheSize 0 verifies every time, with the same answers", async () => {
    const key = await signingKey("k1");
    const verifier = new TokenVerifier({
      settings,
      fetchKeys: () => Promise.resolve({ keys: [key.jwk] }),
      cacheSize: 0,
    });
    const token = await key.sign(60);
    expect(await codeOf(verifier.verify(token))).toBe("ok");
    expect(await codeOf(verifier.verify(token))).toBe("ok");
    expect(await codeOf(verifier.verify(`${token}x`))).toBe(Code.Unauthenticated);
  });
});
