// Access tokens: how every service verifies the caller's JWT.
//
// identity signs ES256 JWTs whose header names the key (`kid`) and whose
// claims are `sub` (user id), `role`, `iss`, `aud`, `iat` and `exp`; it
// publishes the public keys through IdentityService.GetJwks. Each service keeps
// that key set cached (refreshed periodically, and at once when a token names
// a key it has not seen, which is how rotation reaches it) and verifies every
// token itself, so no service ever trusts a bare user id.
import { Code, ConnectError } from "@connectrpc/connect";
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWK } from "jose";
import type { Authenticate, Principal } from "./interceptors/auth.ts";

export const TOKEN_ALGORITHM = "ES256";

export type Role = "customer" | "admin";

export interface TokenSettings {
  issuer: string;
  audience: string;
}

/** The JWK fields of identity.v1.JsonWebKey. */
export type JwkFields = Partial<Record<"kid" | "kty" | "alg" | "use" | "crv" | "x" | "y" | "n" | "e", string>>;

/** The JWK fields of identity.v1.JsonWebKey, as a standard JWK (empty fields dropped). */
export function toJwk(key: JwkFields): JWK {
  return Object.fromEntries(
    Object.entries(key).filter(([k, v]) => !k.startsWith("$") && typeof v === "string" && v !== ""),
  );
}

export interface TokenVerifierOptions {
  /** Fetches the current key set (from identity, or locally inside identity). */
  fetchKeys: () => Promise<JSONWebKeySet>;
  settings: TokenSettings;
  /** Re-fetch the key set at least this often; default 5 minutes. */
  refreshIntervalMs?: number;
  /** Never re-fetch more often than this, whatever tokens arrive; default 10 s. */
  minRefetchIntervalMs?: number;
  /** Tokens remembered as verified (see TokenVerifier.verify); default 10,000; 0 verifies every time. */
  cacheSize?: number;
}

export class TokenVerifier {
  private keys: ReturnType<typeof createLocalJWKSet> | undefined;
  private fetchedAt = 0;
  private inflight: Promise<void> | undefined;
  private readonly refreshIntervalMs: number;
  private readonly minRefetchIntervalMs: number;
  private readonly cacheSize: number;
  /**
   * Tokens verified against the current key set, until their `exp`: a
   * customer's token arrives with every call (and again downstream, where
   * it is forwarded), and an ES256 verification costs far more than a
   * lookup. Emptied whenever the key set is fetched again, so a key that
   * identity withdrew stops vouching for its tokens at the next refresh, as
   * without the cache. Oldest entries go first when it is full.
   */
  private readonly verified = new Map<string, { principal: Principal; expiresAtMs: number }>();

  constructor(private readonly options: TokenVerifierOptions) {
    this.refreshIntervalMs = options.refreshIntervalMs ?? 5 * 60_000;
    this.minRefetchIntervalMs = options.minRefetchIntervalMs ?? 10_000;
    this.cacheSize = options.cacheSize ?? 10_000;
  }

  /** Verifies a JWT; Unauthenticated (with a generic message) if it is not valid now. */
  async verify(token: string): Promise<Principal> {
    if (!this.keys || Date.now() - this.fetchedAt > this.refreshIntervalMs) await this.refresh();
    const known = this.verified.get(token);
    if (known) {
      if (Date.now() < known.expiresAtMs) return known.principal;
      this.verified.delete(token);
    }
    try {
      return await this.verifyWithCurrentKeys(token);
    } catch (err) {
      // A key we have not seen yet: identity rotated. Fetch once and retry.
      if (err instanceof joseErrors.JWKSNoMatchingKey && Date.now() - this.fetchedAt >= this.minRefetchIntervalMs) {
        await this.refresh();
        return this.verifyWithCurrentKeys(token).catch(rejectToken);
      }
      return rejectToken(err);
    }
  }

  private async verifyWithCurrentKeys(token: string): Promise<Principal> {
    const keys = this.keys;
    if (!keys) throw new ConnectError("cannot verify access tokens right now", Code.Unavailable);
    const { payload } = await jwtVerify(token, keys, {
      issuer: this.options.settings.issuer,
      audience: this.options.settings.audience,
      algorithms: [TOKEN_ALGORITHM],
      requiredClaims: ["sub", "exp", "iat"],
    });
    const role = payload.role;
    if (role !== "customer" && role !== "admin") throw new Error("token has no valid role claim");
    // requiredClaims makes jwtVerify reject a token without one.
    if (payload.sub === undefined) throw new Error("token has no sub claim");
    if (payload.exp === undefined) throw new Error("token has no exp claim");
    const principal: Principal = { subject: payload.sub, roles: [role], token };
    if (this.cacheSize > 0 && keys === this.keys) {
      if (this.verified.size >= this.cacheSize) {
        const oldest = this.verified.keys().next();
        if (!oldest.done) this.verified.delete(oldest.value);
      }
      this.verified.set(token, { principal, expiresAtMs: payload.exp * 1000 });
    }
    return principal;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.options
      .fetchKeys()
      .then((set) => {
        this.keys = createLocalJWKSet(set);
        this.fetchedAt = Date.now();
        this.verified.clear();
      })
      .catch((err: unknown) => {
        // Without keys nobody can be verified; say so as Unavailable so that
        // clients retry rather than believe their token is bad.
        throw new ConnectError("cannot verify access tokens right now", Code.Unavailable, undefined, undefined, err);
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }
}

function rejectToken(err: unknown): never {
  if (err instanceof ConnectError) throw err;
  throw new ConnectError("invalid or expired access token", Code.Unauthenticated);
}

/**
 * An Authenticate for the auth interceptor: no Authorization header means an
 * anonymous call (handlers decide whether that is allowed); a header that is
 * present must carry a valid bearer token, or the call fails Unauthenticated.
 */
export function bearerAuthenticator(verifier: Pick<TokenVerifier, "verify">): Authenticate {
  // Not async: an anonymous call (most catalog reads) is answered at once.
  return ({ header }) => {
    const value = header.get("authorization");
    if (value === null) return undefined;
    const match = /^Bearer\s+(\S+)$/i.exec(value.trim());
    if (!match) {
      return Promise.reject(new ConnectError("authorization header must be 'Bearer <token>'", Code.Unauthenticated));
    }
    return verifier.verify(match[1]);
  };
}

/** Whatever serves the current key set: identity's client, with its GetJwks declared. */
export interface JwksSource {
  getJwks(request: object): Promise<{ keys: JwkFields[] }>;
}

/** A verifier whose keys come from a JwksSource (cached and refreshed, see TokenVerifier). */
export function jwksVerifier(source: JwksSource, settings: TokenSettings): TokenVerifier {
  return new TokenVerifier({ settings, fetchKeys: async () => ({ keys: (await source.getJwks({})).keys.map(toJwk) }) });
}

/** The usual Authenticate of a service behind the gateway: bearer tokens verified against identity's keys. */
export function jwksAuthenticator(source: JwksSource, settings: TokenSettings): Authenticate {
  return bearerAuthenticator(jwksVerifier(source, settings));
}

/** Headers that pass the caller's token on to a downstream service. */
export function forwardToken(principal: Principal | undefined): Headers {
  const headers = new Headers();
  if (principal?.token) headers.set("authorization", `Bearer ${principal.token}`);
  return headers;
}
