// The signed-in user: the access token and who it belongs to, kept in
// localStorage so a reload (or another tab) stays signed in. Signing out is
// forgetting the token, as the storefront contract says.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Session as SessionMessage } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { readStored, Store } from "./store.ts";

export interface Session {
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  user: { id: string; email: string; displayName: string };
}

const KEY = "shop.session";

const isSession = (v: unknown): v is Session =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as Partial<Session>).token === "string" &&
  typeof (v as Partial<Session>).expiresAt === "number" &&
  typeof (v as Partial<Session>).user?.id === "string";

function load(): Session | null {
  const stored = readStored<Session | null>(KEY, null, (v): v is Session | null => v === null || isSession(v));
  return stored && stored.expiresAt > Date.now() ? stored : null;
}

export const session = new Store<Session | null>(load());

/** The bearer token, unless it has expired. */
export function currentToken(): string | undefined {
  const s = session.get();
  if (!s) return undefined;
  if (s.expiresAt <= Date.now()) {
    signOut();
    return undefined;
  }
  return s.token;
}

export function signIn(message: SessionMessage): void {
  const { user, accessToken } = message;
  // The storefront always answers a sign-in or sign-up with both.
  if (!user || !accessToken) throw new Error("the sign-in answer has no user or access token");
  const value: Session = {
    token: accessToken.token,
    expiresAt: accessToken.expiresAt ? timestampMs(accessToken.expiresAt) : Date.now() + 3600_000,
    user: { id: user.id, email: user.email, displayName: user.displayName },
  };
  localStorage.setItem(KEY, JSON.stringify(value));
  session.set(value);
}

export function signOut(): void {
  localStorage.removeItem(KEY);
  session.set(null);
}

// Another tab signed in or out.
window.addEventListener("storage", (event) => {
  if (event.key === KEY) session.set(load());
});
