// identity as a real server on a real port with its own database and
// JetStream streams: accounts, sign-in and its throttling, tokens and the key
// set that verifies them, key rotation, the admin from the environment, and
// the UserRegistered event.
import { randomBytes, scryptSync } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { UserRegisteredSchema, type UserRegistered } from "@shop/gen/shop/identity/v1/events_pb";
import { IdentityService, Role } from "@shop/gen/shop/identity/v1/identity_pb";
import { EVENT_TYPE_HEADER } from "@shop/runtime/events/headers";
import { EventBus } from "@shop/runtime/events/index";
import { toJwk } from "@shop/runtime/tokens";
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWK,
} from "jose";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeySealer } from "../src/key-sealing.ts";
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  bearer,
  eventually,
  NATS_URL,
  SIGNING_KEY_ENCRYPTION_KEY,
  startSystem,
  uniqueId,
  type TestSystem,
} from "../../../tests/support/system.ts";

let system: TestSystem;
let sql: postgres.Sql;
beforeAll(async () => {
  system = await startSystem(["identity"]);
  sql = postgres(system.databaseUrl("identity"), { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end();
  await system?.stop();
});

const identity = () => system.client(IdentityService);
const PASSWORD = "correct horse battery staple";
const newEmail = () => `${uniqueId("user")}@shop.test`;

async function expectCode(call: Promise<unknown>, code: Code, fragment?: string): Promise<ConnectError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(err, "the call should fail").toBeInstanceOf(ConnectError);
  expect(Code[err!.code]).toBe(Code[code]);
  if (fragment) expect(err!.rawMessage).toContain(fragment);
  return err!;
}

async function register(email = newEmail(), password = PASSWORD) {
  const res = await identity().register({ email, password, displayName: "Ada" });
  return { email, password, userId: res.user!.id, token: res.accessToken!.token, res };
}

async function jwks(client = identity()) {
  return createLocalJWKSet({ keys: (await client.getJwks({})).keys.map(toJwk) });
}

/** The newest signing key, straight from identity's database. */
/** The signing key, opened with the test KEK: the database alone holds it sealed (never a private JWK). */
async function newestSigningKey(): Promise<{ kid: string; privateJwk: JWK }> {
  const [row] = await sql<
    { kid: string; private_jwk: JWK | null; private_key_sealed: string }[]
  >`select kid, private_jwk, private_key_sealed from signing_keys order by created_at desc limit 1`;
  expect(row.private_jwk).toBeNull();
  const sealer = new KeySealer(new Uint8Array(Buffer.from(SIGNING_KEY_ENCRYPTION_KEY, "base64")));
  return { kid: row.kid, privateJwk: await sealer.open(row.kid, row.private_key_sealed) };
}

describe("accounts", () => {
  it("registers a customer, signs in and reads itself", async () => {
    const { email, userId, token, res } = await register();
    expect(res.user).toMatchObject({ email, displayName: "Ada", role: Role.CUSTOMER });
    expect(userId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    expect(Number(res.accessToken!.expiresAt!.seconds) * 1000).toBeGreaterThan(Date.now() + 3500_000);

    const me = await identity().getMe({}, { headers: bearer(token) });
    expect(me.user?.id).toBe(userId);

    const login = await identity().login({ email: email.toUpperCase(), password: PASSWORD });
    expect(login.user?.id).toBe(userId);
    const again = await identity().getMe({}, { headers: bearer(login.accessToken!.token) });
    expect(again.user?.email).toBe(email);
    await expectCode(identity().getMe({}), Code.Unauthenticated);
  });

  it("answers AlreadyExists for an email taken in any letter case", async () => {
    const { email } = await register();
    const err = await expectCode(
      identity().register({
        email: email.replace("user", "USER"),
        password: "another fine password",
        displayName: "Twin",
      }),
      Code.AlreadyExists,
    );
    expect(err.rawMessage).toMatch(/^email: /);
  });

  it("rejects weak passwords with InvalidArgument on password", async () => {
    const email = newEmail();
    for (const password of [email.toUpperCase(), "aaaaaaaaaaaa", "🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑", "short"]) {
      const err = await expectCode(identity().register({ email, password, displayName: "Weak" }), Code.InvalidArgument);
      expect(err.rawMessage, password).toContain("password");
      const [violations] = err.findDetails(ViolationsSchema);
      expect(violations?.violations[0]?.field?.elements[0]?.fieldName).toBe("password");
    }
    // None of them created the account.
    await register(email);
  });

  it("lets a caller read itself, an admin read anyone, and nobody else", async () => {
    const a = await register();
    const b = await register();
    const self = await identity().getUser({ userId: a.userId }, { headers: bearer(a.token) });
    expect(self.user?.email).toBe(a.email);
    await expectCode(identity().getUser({ userId: b.userId }, { headers: bearer(a.token) }), Code.NotFound);
    await expectCode(identity().getUser({ userId: b.userId }), Code.Unauthenticated);

    const admin = bearer(await system.adminToken());
    const read = await identity().getUser({ userId: b.userId }, { headers: admin });
    expect(read.user?.email).toBe(b.email);
    await expectCode(
      identity().getUser({ userId: "019b76da-0000-7000-8000-000000000000" }, { headers: admin }),
      Code.NotFound,
    );
  });

  it("publishes UserRegistered through the outbox", async () => {
    const { userId, email } = await register();
    const bus = await EventBus.connect({ servers: NATS_URL, naming: system.naming });
    try {
      const stream = system.naming.stream(UserRegisteredSchema);
      const durable = uniqueId("identity-test");
      await bus.jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: "explicit",
        deliver_policy: "all",
        filter_subject: system.naming.subject(UserRegisteredSchema),
      });
      const consumer = await bus.js.consumers.get(stream, durable);
      const seen: UserRegistered[] = [];
      const event = await eventually("UserRegistered for the new user", async () => {
        const batch = await consumer.fetch({ max_messages: 100, expires: 1000 });
        for await (const msg of batch) {
          expect(msg.headers?.get(EVENT_TYPE_HEADER)).toBe(UserRegisteredSchema.typeName);
          seen.push(fromBinary(UserRegisteredSchema, msg.data));
          msg.ack();
        }
        return seen.find((e) => e.userId === userId);
      });
      expect(event).toMatchObject({ email, displayName: "Ada" });
      expect(event.registeredAt?.seconds).toBeGreaterThan(0n);
      expect(seen.filter((e) => e.userId === userId)).toHaveLength(1);
    } finally {
      await bus.close();
    }
  });
});

describe("the admin from ADMIN_EMAIL and ADMIN_PASSWORD", () => {
  it("signs in with role ADMIN and an admin token", async () => {
    const res = await identity().login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    expect(res.user?.role).toBe(Role.ADMIN);
    const { payload } = await jwtVerify(res.accessToken!.token, await jwks(), {
      issuer: "shop-identity",
      audience: "shop",
    });
    expect(payload.role).toBe("admin");
    const me = await identity().getMe({}, { headers: bearer(res.accessToken!.token) });
    expect(me.user?.role).toBe(Role.ADMIN);
  });
});

describe("signing in", () => {
  const retryAfter = (err: ConnectError) => Number(/try again in (\d+) s$/.exec(err.rawMessage)?.[1]);

  it("answers Unauthenticated, with one message, for a wrong password and for an unknown email", async () => {
    const { email } = await register();
    const wrong = await expectCode(identity().login({ email, password: "not the password" }), Code.Unauthenticated);
    const unknown = await expectCode(identity().login({ email: newEmail(), password: PASSWORD }), Code.Unauthenticated);
    expect(unknown.rawMessage).toBe(wrong.rawMessage);
  });

  it("spends comparable time on unknown emails and on wrong passwords", async () => {
    const { email } = await register();
    const timed = async (login: () => Promise<unknown>) => {
      const started = performance.now();
      await login().catch(() => {});
      return performance.now() - started;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[1];
    const wrong: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i++) {
      wrong.push(await timed(() => identity().login({ email, password: `wrong password ${i}` })));
      unknown.push(await timed(() => identity().login({ email: newEmail(), password: `wrong password ${i}` })));
    }
    // Without the decoy hash an unknown email answers after one indexed query,
    // an order of magnitude faster than a scrypt verification.
    expect(median(unknown)).toBeGreaterThan(median(wrong) * 0.3);
  });

  it("locks an account after 5 consecutive failures, even against the right password", async () => {
    const { email } = await register();
    for (let i = 0; i < 5; i++)
      await expectCode(identity().login({ email, password: `guess number ${i}` }), Code.Unauthenticated);
    const locked = await expectCode(
      identity().login({ email, password: "guess number 5" }),
      Code.ResourceExhausted,
      "too many failed sign-in attempts",
    );
    expect(retryAfter(locked)).toBeGreaterThan(20);
    expect(retryAfter(locked)).toBeLessThanOrEqual(30);
    expect(locked.metadata.get("retry-after")).toBe(String(retryAfter(locked)));
    await expectCode(identity().login({ email, password: PASSWORD }), Code.ResourceExhausted);

    // The lock runs out (simulated): one more failure locks for twice as long.
    await sql`update users set locked_until = now() where email = ${email}`;
    await expectCode(identity().login({ email, password: "guess number 6" }), Code.Unauthenticated);
    const doubled = await expectCode(identity().login({ email, password: PASSWORD }), Code.ResourceExhausted);
    expect(retryAfter(doubled)).toBeGreaterThan(50);
    expect(retryAfter(doubled)).toBeLessThanOrEqual(60);

    // A success resets the count: four more failures do not lock.
    await sql`update users set locked_until = now() where email = ${email}`;
    await identity().login({ email, password: PASSWORD });
    for (let i = 0; i < 4; i++)
      await expectCode(identity().login({ email, password: `guess again ${i}` }), Code.Unauthenticated);
    await identity().login({ email, password: PASSWORD });
  });

  it("upgrades a hash made with weaker scrypt parameters at the next sign-in", async () => {
    const { email, password } = await register();
    const salt = randomBytes(16);
    const weak = [
      "scrypt",
      2 ** 14,
      8,
      1,
      salt.toString("base64"),
      scryptSync(password, salt, 32, { N: 2 ** 14, r: 8, p: 1 }).toString("base64"),
    ].join("$");
    await sql`update users set password_hash = ${weak} where email = ${email}`;
    await identity().login({ email, password });
    const [row] = await sql<{ password_hash: string }[]>`select password_hash from users where email = ${email}`;
    expect(row.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    await identity().login({ email, password });
  });

  it("lets no more than 5 concurrent guesses through to the password check", async () => {
    const { email } = await register();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        identity()
          .login({ email, password: `parallel guess ${i}` })
          .then(
            () => "ok",
            (e: unknown) => Code[ConnectError.from(e).code],
          ),
      ),
    );
    expect(results.filter((c) => c === "Unauthenticated")).toHaveLength(5);
    expect(results.filter((c) => c === "ResourceExhausted")).toHaveLength(7);
  });
});

describe("access tokens", () => {
  it("verify against the published key set", async () => {
    const { token, userId } = await register();
    const { keys } = await identity().getJwks({});
    expect(keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    const { payload, protectedHeader } = await jwtVerify(token, await jwks(), {
      issuer: "shop-identity",
      audience: "shop",
      algorithms: ["ES256"],
    });
    expect(protectedHeader.kid).toBe(keys[0].kid);
    expect(payload).toMatchObject({ sub: userId, role: "customer", iss: "shop-identity", aud: "shop" });
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it("reject a tampered token, one signed by another key and an expired one", async () => {
    const { token, userId } = await register();
    const [header, payload, signature] = token.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
    const elevated = Buffer.from(JSON.stringify({ ...claims, role: "admin" })).toString("base64url");
    await expectCode(
      identity().getMe({}, { headers: bearer(`${header}.${elevated}.${signature}`) }),
      Code.Unauthenticated,
    );
    await expectCode(identity().getMe({}, { headers: bearer("not.a.jwt") }), Code.Unauthenticated);

    const real = await newestSigningKey();
    const sign = (key: Parameters<SignJWT["sign"]>[0], kid: string, expiresIn: number) =>
      new SignJWT({ role: "customer" })
        .setProtectedHeader({ alg: "ES256", kid })
        .setSubject(userId)
        .setIssuer("shop-identity")
        .setAudience("shop")
        .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
        .setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn)
        .sign(key);
    const { privateKey: foreign } = await generateKeyPair("ES256");
    await expectCode(
      identity().getMe({}, { headers: bearer(await sign(foreign, real.kid, 600)) }),
      Code.Unauthenticated,
    );
    await expectCode(
      identity().getMe({}, { headers: bearer(await sign(foreign, randomBytes(8).toString("hex"), 600)) }),
      Code.Unauthenticated,
    );

    const ours = await importJWK(real.privateJwk, "ES256");
    // Control: the same construction with identity's key and a future exp is accepted...
    const valid = await identity().getMe({}, { headers: bearer(await sign(ours, real.kid, 600)) });
    expect(valid.user?.id).toBe(userId);
    // ...and with an exp in the past it is not.
    await expectCode(identity().getMe({}, { headers: bearer(await sign(ours, real.kid, -60)) }), Code.Unauthenticated);
  });

  it("keep verifying after identity restarts (the keys live in its database)", async () => {
    const { token, userId } = await register();
    await system.restart("identity");
    const me = await identity().getMe({}, { headers: bearer(token) });
    expect(me.user?.id).toBe(userId);
    const relogin = await identity().login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    expect(decodeProtectedHeader(relogin.accessToken!.token).kid).toBe(decodeProtectedHeader(token).kid);
  });
});

describe("key rotation", () => {
  let rotating: TestSystem;
  beforeAll(async () => {
    // A rotation period of 1.5 s, each key published 1 s before it signs.
    rotating = await startSystem(["identity"], {
      env: { KEY_ROTATION_DAYS: String(1.5 / 86_400), KEY_PUBLISH_LEAD_SECONDS: "1" },
    });
  });
  afterAll(() => rotating?.stop());

  it("signs new tokens with a new key and keeps publishing the old one", async () => {
    const client = rotating.client(IdentityService);
    const first = await client.register({ email: newEmail(), password: PASSWORD, displayName: "Early" });
    const oldToken = first.accessToken!.token;
    const oldKid = decodeProtectedHeader(oldToken).kid;

    const newToken = await eventually("a token signed with a newer key", async () => {
      const res = await client.login({ email: first.user!.email, password: PASSWORD });
      const token = res.accessToken!.token;
      return decodeProtectedHeader(token).kid !== oldKid ? token : undefined;
    });
    const newKid = decodeProtectedHeader(newToken).kid;

    const { keys } = await client.getJwks({});
    expect(keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
    expect(keys.findIndex((k) => k.kid === newKid)).toBeLessThan(keys.findIndex((k) => k.kid === oldKid));

    const set = await jwks(client);
    for (const token of [oldToken, newToken]) {
      await jwtVerify(token, set, { issuer: "shop-identity", audience: "shop" });
      const me = await client.getMe({}, { headers: bearer(token) });
      expect(me.user?.id).toBe(first.user!.id);
    }
  });
});
