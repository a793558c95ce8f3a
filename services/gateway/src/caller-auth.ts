// Who is calling the gateway. Public methods (sign-up, sign-in and catalog
// reads) are not authenticated at all: a stale token left in a browser must
// not stop anyone from browsing. Every other method needs a bearer token,
// verified here against identity's keys so a bad or missing token fails fast
// with Unauthenticated; the services behind verify the forwarded token again.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Authenticate } from "@shop/runtime/interceptors/auth";
import { bearerAuthenticator, type TokenVerifier } from "@shop/runtime/tokens";
import { manifest } from "./manifest.ts";

/** StorefrontService methods callable without an access token: the manifest's list (localNames). */
export const PUBLIC_METHODS: ReadonlySet<string> = new Set(manifest.publicMethods);

export function callerAuthenticator(verifier: Pick<TokenVerifier, "verify">): Authenticate {
  const bearer = bearerAuthenticator(verifier);
  // Not async: a public method (every catalog read) is answered at once.
  return (req) => {
    if (PUBLIC_METHODS.has(req.method.localName)) return undefined;
    return Promise.resolve(bearer(req)).then((principal) => {
      if (!principal) throw new ConnectError("sign in first: this call needs an access token", Code.Unauthenticated);
      return principal;
    });
  };
}
