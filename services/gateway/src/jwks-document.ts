// /.well-known/jwks.json: identity's token-verification keys as a standard
// JSON Web Key Set (RFC 7517), for the mesh's RequestAuthentication and any
// other party that verifies our access tokens without speaking gRPC.
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { Client } from "@connectrpc/connect";
import type { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import type { Logger } from "@shop/runtime/log";
import { toJwk } from "@shop/runtime/tokens";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

export const JWKS_PATH = "/.well-known/jwks.json";

/** Verifiers re-fetch at least this often; retired keys stay published far longer (identity's rule). */
const CACHE_CONTROL = "public, max-age=300";

export class JwksDocument {
  constructor(
    private readonly identity: Pick<Client<typeof IdentityService>, "getJwks">,
    private readonly logger: Logger,
  ) {}

  async serve(req: Request, res: Response): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.statusCode = 405;
      res.setHeader("allow", "GET, HEAD");
      res.end();
      return;
    }
    let body: string;
    try {
      const { keys } = await this.identity.getJwks({}, { timeoutMs: 5_000 });
      body = JSON.stringify({ keys: keys.map(toJwk) });
    } catch (err) {
      this.logger.warn({ err }, "cannot fetch the JWKS from identity");
      res.statusCode = 503;
      res.setHeader("content-type", "application/json");
      res.setHeader("cache-control", "no-store");
      res.setHeader("retry-after", "5");
      res.end(JSON.stringify({ error: "the key set is temporarily unavailable" }));
      return;
    }
    res.statusCode = 200;
    res.setHeader("content-type", "application/json");
    res.setHeader("cache-control", CACHE_CONTROL);
    res.setHeader("access-control-allow-origin", "*"); // public keys, readable from anywhere
    if (req.method === "HEAD") res.end();
    else res.end(body);
  }
}
