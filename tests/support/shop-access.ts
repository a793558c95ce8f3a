// How tests reach a running shop, in-process or as processes: a Connect
// client (binary, HTTP/2) for whichever deployable serves a service, fresh
// customers, and the admin that identity creates from ADMIN_EMAIL/PASSWORD.
import { randomBytes } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";

export const ADMIN_EMAIL = "admin@shop.test";
export const ADMIN_PASSWORD = "admin-password-for-tests";
/** identity's key-encryption key in tests (32 bytes, base64). */
export const SIGNING_KEY_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString("base64");

export interface Account {
  userId: string;
  email: string;
  password: string;
  token: string;
}

// Plain functions (no `this`): the systems hand them on as their own.
export interface ShopAccess {
  readonly client: <S extends DescService>(service: S) => Client<S>;
  /** Registers a fresh customer through identity. */
  readonly signUp: (displayName?: string) => Promise<Account>;
  /** Logs in as the admin that identity creates from ADMIN_EMAIL/ADMIN_PASSWORD. */
  readonly adminToken: () => Promise<string>;
  /** Closes every connection the clients opened. */
  readonly close: () => void;
}

/** `baseUrlOf(service)` is the address of the deployable serving it (and throws if none does). */
export function shopAccess(baseUrlOf: (service: DescService) => string): ShopAccess {
  const sessions: Http2SessionManager[] = [];
  const client = <S extends DescService>(service: S): Client<S> => {
    const baseUrl = baseUrlOf(service);
    const sessionManager = new Http2SessionManager(baseUrl);
    sessions.push(sessionManager);
    return createClient(
      service,
      createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, sessionManager }),
    );
  };
  let adminToken: string | undefined;
  return {
    client,
    async signUp(displayName = "Test Customer") {
      const email = `user_${randomBytes(5).toString("hex")}@shop.test`;
      const password = "correct horse battery staple";
      const res = await client(IdentityService).register({ email, password, displayName });
      return { userId: res.user!.id, email, password, token: res.accessToken!.token };
    },
    async adminToken() {
      adminToken ??= (await client(IdentityService).login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }))
        .accessToken!.token;
      return adminToken;
    },
    close() {
      for (const s of sessions) s.abort();
    },
  };
}
