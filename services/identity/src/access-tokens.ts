// Issues access tokens in exactly the format the runtime verifies
// (services/runtime/src/tokens.ts): ES256, header `kid`, claims sub, role,
// iss, aud, iat and exp.
import { SignJWT } from "jose";
import { TOKEN_ALGORITHM, type Role, type TokenSettings } from "@shop/runtime/tokens";
import type { SigningKeys } from "./signing-keys.ts";

export interface IssuedToken {
  token: string;
  expiresAt: Date;
}

export class AccessTokens {
  constructor(
    private readonly keys: SigningKeys,
    private readonly settings: TokenSettings,
    private readonly ttlSeconds: number,
  ) {}

  async issue(user: { id: string; role: Role }): Promise<IssuedToken> {
    const key = await this.keys.current();
    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresAt = issuedAt + this.ttlSeconds;
    const token = await new SignJWT({ role: user.role })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid: key.kid })
      .setSubject(user.id)
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(key.privateKey);
    return { token, expiresAt: new Date(expiresAt * 1000) };
  }
}
