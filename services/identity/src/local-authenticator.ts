// How identity verifies the tokens it receives: like every other service
// (the runtime's TokenVerifier), but with the key set read from its own
// database instead of fetched over the network. A key this replica just
// started signing with must verify at once, so the verifier (and its cached
// key set) is replaced whenever that happens; keys created by other replicas
// are picked up through the verifier's refetch on an unknown `kid`.
import type { Authenticate } from "@shop/runtime/interceptors/auth";
import { bearerAuthenticator, TokenVerifier, type TokenSettings } from "@shop/runtime/tokens";
import type { SigningKeys } from "./signing-keys.ts";

export function localAuthenticator(keys: SigningKeys, settings: TokenSettings): Authenticate {
  const newVerifier = () =>
    new TokenVerifier({
      settings,
      fetchKeys: async () => ({ keys: await keys.published() }),
      // A local query, so refetching on an unknown kid may happen often.
      minRefetchIntervalMs: 1000,
      refreshIntervalMs: 60_000,
    });
  let verifier = newVerifier();
  keys.onNewKey(() => {
    verifier = newVerifier();
  });
  return bearerAuthenticator({ verify: (token) => verifier.verify(token) });
}
