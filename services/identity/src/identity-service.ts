// IdentityService handlers: accounts, sign-in and the token-signing key set.
// Register and Login are anonymous; GetMe and GetUser need a token (verified
// by the local authenticator before any handler runs); GetJwks is public.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { eq } from "drizzle-orm";
import { UserRegisteredSchema } from "@shop/gen/shop/identity/v1/events_pb";
import {
  AccessTokenSchema,
  IdentityService,
  JsonWebKeySchema,
  RegisterRequestSchema,
  Role,
  UserSchema,
  type AccessToken,
  type User,
} from "@shop/gen/shop/identity/v1/identity_pb";
import { requireOwnerOrAdmin, requirePrincipal } from "@shop/runtime/authorization";
import type { Database } from "@shop/runtime/db/database";
import type { Outbox } from "@shop/runtime/events/outbox";
import { v7 as uuidv7 } from "uuid";
import type { AccessTokens, IssuedToken } from "./access-tokens.ts";
import { fieldViolation } from "@shop/runtime/field-violation";
import { claimSignInAttempt, recordSignInSuccess } from "./login-throttle.ts";
import { hashPassword, needsRehash, verifyPassword } from "./password-hash.ts";
import { passwordProblem } from "./password-policy.ts";
import * as schema from "./schema.ts";
import { users, type UserRow } from "./schema.ts";
import type { SigningKeys } from "./signing-keys.ts";
import type { PublishedBy } from "@shop/runtime/manifest";
import type { manifest } from "./manifest.ts";

export interface IdentityServiceDeps {
  db: Database<typeof schema>;
  outbox: Outbox<PublishedBy<typeof manifest>>;
  tokens: AccessTokens;
  keys: SigningKeys;
  /**
   * A hash of a random password: Login verifies against it when the email is
   * unknown, so that both failures take about as long.
   */
  decoyHash: string;
}

/** One message for wrong email and wrong password: it must not tell them apart. */
const BAD_CREDENTIALS = "wrong email or password";

export function toUser(row: UserRow): User {
  return create(UserSchema, {
    id: row.id,
    email: row.email,
    displayName: row.displayName,
    role: row.role === "admin" ? Role.ADMIN : Role.CUSTOMER,
    createdAt: timestampFromDate(row.createdAt),
  });
}

function toAccessToken({ token, expiresAt }: IssuedToken): AccessToken {
  return create(AccessTokenSchema, { token, expiresAt: timestampFromDate(expiresAt) });
}

/** Emails are unique case-insensitively: stored and looked up lower-cased. */
function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function identityService({
  db,
  outbox,
  tokens,
  keys,
  decoyHash,
}: IdentityServiceDeps): ServiceImpl<typeof IdentityService> {
  const findUser = async (id: string) => (await db.select().from(users).where(eq(users.id, id))).at(0);

  return {
    async register(req) {
      const email = normalizeEmail(req.email);
      const problem = passwordProblem(req.password, email);
      if (problem) throw fieldViolation(RegisterRequestSchema.field.password, "password.policy", problem);
      const displayName = req.displayName.trim();
      if (displayName === "")
        throw fieldViolation(RegisterRequestSchema.field.displayName, "display_name.blank", "must not be blank");

      const passwordHash = await hashPassword(req.password);
      const row = await db.transaction(async (tx) => {
        const inserted = (
          await tx
            .insert(users)
            .values({ id: uuidv7(), email, displayName, role: "customer", passwordHash })
            .onConflictDoNothing({ target: users.email })
            .returning()
        ).at(0);
        if (!inserted) throw new ConnectError("email: an account with this email already exists", Code.AlreadyExists);
        await outbox.enqueue(tx, UserRegisteredSchema, {
          userId: inserted.id,
          email: inserted.email,
          displayName: inserted.displayName,
          registeredAt: timestampFromDate(inserted.createdAt),
        });
        return inserted;
      });
      return { user: toUser(row), accessToken: toAccessToken(await tokens.issue(row)) };
    },

    async login(req) {
      const user = (
        await db
          .select()
          .from(users)
          .where(eq(users.email, normalizeEmail(req.email)))
      ).at(0);
      if (!user) {
        await verifyPassword(req.password, decoyHash);
        throw new ConnectError(BAD_CREDENTIALS, Code.Unauthenticated);
      }
      const claim = await claimSignInAttempt(db, user.id);
      if (!claim.allowed) {
        throw new ConnectError(
          `too many failed sign-in attempts; try again in ${claim.retryAfterSeconds} s`,
          Code.ResourceExhausted,
          { "retry-after": String(claim.retryAfterSeconds) },
        );
      }
      if (!(await verifyPassword(req.password, user.passwordHash)))
        throw new ConnectError(BAD_CREDENTIALS, Code.Unauthenticated);
      await recordSignInSuccess(
        db,
        user.id,
        needsRehash(user.passwordHash) ? await hashPassword(req.password) : undefined,
      );
      return { user: toUser(user), accessToken: toAccessToken(await tokens.issue(user)) };
    },

    async getMe(_req, ctx) {
      const principal = requirePrincipal(ctx);
      const user = await findUser(principal.subject);
      // A valid token for an account that no longer exists: the session is over.
      if (!user) throw new ConnectError("the signed-in account no longer exists", Code.Unauthenticated);
      return { user: toUser(user) };
    },

    async getUser({ userId }, ctx) {
      requireOwnerOrAdmin(ctx, userId, "user");
      const user = await findUser(userId);
      if (!user) throw new ConnectError("user not found", Code.NotFound);
      return { user: toUser(user) };
    },

    async getJwks() {
      const published = await keys.published();
      return {
        keys: published.map((jwk) =>
          create(JsonWebKeySchema, {
            kid: jwk.kid ?? "",
            kty: jwk.kty ?? "",
            alg: jwk.alg ?? "",
            use: jwk.use ?? "",
            crv: jwk.crv ?? "",
            x: jwk.x ?? "",
            y: jwk.y ?? "",
            n: jwk.n ?? "",
            e: jwk.e ?? "",
          }),
        ),
      };
    },
  };
}
