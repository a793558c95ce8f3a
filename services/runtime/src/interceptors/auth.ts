// The auth-context hook: an interceptor that asks a pluggable `authenticate`
// function who is calling and stores the answer under a typed context key, so
// handlers read the verified caller from ctx.values instead of from headers.
//
// Verification is the service's choice (ServiceParts.authenticate): most use
// jwksAuthenticator (tokens.ts), bearer JWTs against identity's keys; the
// default here authenticates nobody. authenticate() may throw
// ConnectError(Code.Unauthenticated) for a token that is present but invalid.
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";

/** The verified caller of an RPC. */
export interface Principal {
  /** Stable user id (the JWT `sub`). */
  readonly subject: string;
  readonly roles: readonly string[];
  /** The credential itself, forwarded on downstream calls so they verify it too. */
  readonly token?: string;
}

export interface AuthRequest {
  readonly header: Headers;
  readonly service: DescService;
  readonly method: DescMethod;
}

export type Authenticate = (req: AuthRequest) => Principal | undefined | Promise<Principal | undefined>;

export const principalKey = createContextKey<Principal | undefined>(undefined, {
  description: "verified caller of the current RPC",
});

export const anonymous: Authenticate = () => undefined;

export function authInterceptor(authenticate: Authenticate = anonymous): Interceptor {
  // Not async: an authenticate() that answers at once (no credential, a
  // public method) costs no promise jobs, on every call.
  return (next) => (req) => {
    let principal: ReturnType<Authenticate>;
    try {
      principal = authenticate(req);
    } catch (err) {
      return Promise.reject(err);
    }
    if (isPromiseLike(principal)) {
      return Promise.resolve(principal).then((verified) => {
        if (verified) req.contextValues.set(principalKey, verified);
        return next(req);
      });
    }
    if (principal) req.contextValues.set(principalKey, principal);
    return next(req);
  };
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === "function";
}

/** The caller, or undefined for an anonymous call. */
export function principalOf(ctx: Pick<HandlerContext, "values">): Principal | undefined {
  return ctx.values.get(principalKey);
}

/** The caller; anonymous calls fail with Unauthenticated. */
export function requirePrincipal(ctx: Pick<HandlerContext, "values">): Principal {
  const principal = principalOf(ctx);
  if (!principal) throw new ConnectError("authentication required", Code.Unauthenticated);
  return principal;
}
