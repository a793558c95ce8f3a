// CORS for pages on other origins (a Vite dev server, a second front end):
// the web app itself is served by the gateway and calls it same-origin. Only
// the configured origins get CORS headers; a preflight from any other origin
// is refused, so the browser never sends the real request.
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { cors } from "@connectrpc/connect";
import { ROUTING_HEADER_NAMES } from "@shop/runtime/routing-headers";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

const lowerCase = (names: readonly string[]) => names.map((name) => name.toLowerCase());

/**
 * What Connect, gRPC and gRPC-Web need a browser to send and read (the
 * library's own lists, @connectrpc/connect `cors`), plus our bearer tokens,
 * the mesh's routing headers and the Retry-After of a refused call.
 */
export const CORS_ALLOWED_HEADERS = [...lowerCase(cors.allowedHeaders), "authorization", ...ROUTING_HEADER_NAMES];
export const CORS_EXPOSED_HEADERS = [...lowerCase(cors.exposedHeaders), "retry-after"];
const ALLOWED_METHODS = cors.allowedMethods;
/** Browsers cache a successful preflight this long (Chromium caps it at 2 hours). */
const PREFLIGHT_MAX_AGE_S = 7200;

export type CorsOutcome = "answered" | "continue";

export class CorsPolicy {
  private readonly allowed: ReadonlySet<string>;

  constructor(origins: readonly string[]) {
    this.allowed = new Set(origins);
  }

  isAllowed(origin: string): boolean {
    return this.allowed.has(origin);
  }

  /**
   * Adds CORS headers for an allowed cross-origin request and answers
   * preflights itself ("answered"); everything else continues untouched.
   */
  apply(req: Request, res: Response): CorsOutcome {
    const origin = req.headers.origin;
    if (typeof origin !== "string" || isSameOrigin(req, origin)) return "continue";
    res.setHeader("vary", "origin");
    const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    if (!this.isAllowed(origin)) {
      if (!preflight) return "continue"; // no CORS headers: the browser will not let the page read the answer
      res.statusCode = 403;
      res.end();
      return "answered";
    }
    res.setHeader("access-control-allow-origin", origin);
    if (!preflight) {
      res.setHeader("access-control-expose-headers", CORS_EXPOSED_HEADERS.join(", "));
      return "continue";
    }
    res.setHeader("access-control-allow-methods", ALLOWED_METHODS.join(", "));
    res.setHeader("access-control-allow-headers", CORS_ALLOWED_HEADERS.join(", "));
    res.setHeader("access-control-max-age", String(PREFLIGHT_MAX_AGE_S));
    res.statusCode = 204;
    res.end();
    return "answered";
  }
}

/** Browsers send Origin on same-origin POSTs too; those need no CORS headers. */
function isSameOrigin(req: Request, origin: string): boolean {
  const host = req.headers.host ?? req.headers[":authority"];
  if (typeof host !== "string" || !URL.canParse(origin)) return false;
  return new URL(origin).host === host;
}
