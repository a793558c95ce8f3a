// The identity deployable: users, credentials and signing keys (see manifest.ts).
import { randomBytes } from "node:crypto";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import { implement } from "@shop/runtime/server";
import type { ServiceDefinition } from "@shop/runtime/service";
import { AccessTokens } from "./access-tokens.ts";
import { ensureAdminAccount } from "./admin-account.ts";
import { loadIdentityConfig } from "./config.ts";
import { identityService } from "./identity-service.ts";
import { KeySealer } from "./key-sealing.ts";
import { localAuthenticator } from "./local-authenticator.ts";
import { manifest } from "./manifest.ts";
import { hashPassword } from "./password-hash.ts";
import * as schema from "./schema.ts";
import { SigningKeys } from "./signing-keys.ts";

export const definition = {
  manifest,
  schema,
  migrations: new URL("../drizzle", import.meta.url),
  async setup({ db, outbox, logger, tokenSettings, env }) {
    const config = loadIdentityConfig(env);
    const sealer = new KeySealer(config.kek.current, config.kek.previous);
    const keys = new SigningKeys(db, {
      rotationMs: config.keyRotationMs,
      publishLeadMs: config.keyPublishLeadMs,
      accessTokenTtlSeconds: config.accessTokenTtlSeconds,
      sealer,
    });
    const sealed = await keys.sealStoredKeys();
    if (sealed > 0)
      logger.info(
        { keys: sealed, kek: sealer.currentId },
        "sealed stored signing keys with the current key-encryption key",
      );
    const active = await keys.current();
    logger.info({ kid: active.kid, kek: sealer.currentId }, "signing access tokens");
    if (config.admin) {
      const outcome = await ensureAdminAccount(db, outbox, config.admin);
      logger.info({ email: config.admin.email, outcome }, "admin account from ADMIN_EMAIL");
    }
    const decoyHash = await hashPassword(randomBytes(18).toString("base64"));
    const tokens = new AccessTokens(keys, tokenSettings, config.accessTokenTtlSeconds);
    return {
      services: [implement(IdentityService, identityService({ db, outbox, tokens, keys, decoyHash }))],
      authenticate: localAuthenticator(keys, tokenSettings),
    };
  },
} satisfies ServiceDefinition<typeof manifest, typeof schema>;
