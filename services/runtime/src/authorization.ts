// What a verified caller may do. Ownership failures answer NotFound, not
// PermissionDenied, so that ids of other users' resources reveal nothing.
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { principalOf, requirePrincipal, type Principal } from "./interceptors/auth.ts";

export function isAdmin(principal: Principal | undefined): boolean {
  return principal?.roles.includes("admin") ?? false;
}

/** The caller, who must be an admin: Unauthenticated if anonymous, else PermissionDenied. */
export function requireAdmin(ctx: Pick<HandlerContext, "values">): Principal {
  const principal = requirePrincipal(ctx);
  if (!isAdmin(principal)) throw new ConnectError("this operation needs the admin role", Code.PermissionDenied);
  return principal;
}

/** Throws NotFound unless the caller owns the resource or is an admin. */
export function requireOwnerOrAdmin(
  ctx: Pick<HandlerContext, "values">,
  ownerId: string | undefined,
  what: string,
): Principal {
  const principal = requirePrincipal(ctx);
  if (ownerId !== principal.subject && !isAdmin(principal)) {
    throw new ConnectError(`${what} not found`, Code.NotFound);
  }
  return principal;
}

export { principalOf, requirePrincipal };
