// HTTP caching of Connect GET answers. Connect serves unary NO_SIDE_EFFECTS
// methods over GET (the request message in the query string), so browsers
// and ordinary HTTP caches can keep their answers; this adds what they need
// to do it safely, for the methods a server chooses (ServerOptions.httpCaching):
//
// - `Cache-Control` as the server says (the gateway: `public, no-cache`,
//   i.e. store it but ask again every time), and `Vary: Accept-Encoding`
//   (the body is compressed by what the client accepts);
// - a strong `ETag`: a hash of the answer's bytes as sent, so it changes
//   whenever anything in the answer does, live parts included;
// - `304 Not Modified` (no body) when the request's `If-None-Match` names
//   that tag, so revalidating costs a round trip but not the body.
//
// Errors are never stored (`Cache-Control: no-store`). The answer is still
// computed for a 304: what it saves is bandwidth and the client's parsing,
// not the server's work (the gateway's own cache saves that).
import { createHash } from "node:crypto";
import type { DescMethod } from "@bufbuild/protobuf";
import { createAsyncIterable, readAllBytes, type UniversalServerResponse } from "@connectrpc/connect/protocol";

/** The Cache-Control for a method's successful GET answers; undefined: no caching headers at all. */
export type HttpCachingPolicy = (method: DescMethod) => string | undefined;

/** `"<base64url sha-256>"`: a strong validator for these bytes. */
export function entityTag(body: Uint8Array): string {
  return `"${createHash("sha256").update(body).digest("base64url")}"`;
}

/** Whether an If-None-Match header value matches `tag` (weak comparison, as RFC 9110 13.1.2 asks). */
export function noneMatchHits(ifNoneMatch: string | undefined, tag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === "*") return true;
  const opaque = (t: string) => t.trim().replace(/^W\//, "");
  return ifNoneMatch.split(",").some((candidate) => opaque(candidate) === opaque(tag));
}

/** `uRes` with caching headers, or a 304 in its place when the client already has it. */
export async function conditionalGet(
  uRes: UniversalServerResponse,
  cacheControl: string,
  ifNoneMatch: string | undefined,
): Promise<UniversalServerResponse> {
  const header = new Headers(uRes.header);
  if (uRes.status !== 200 || !uRes.body) {
    header.set("cache-control", "no-store");
    return { ...uRes, header };
  }
  header.set("cache-control", cacheControl);
  header.append("vary", "Accept-Encoding");
  if (/\bno-store\b/.test(cacheControl)) return { ...uRes, header };
  // A unary answer is already serialized whole in memory (one chunk): reading it copies nothing.
  const body = await readAllBytes(uRes.body, Number.MAX_SAFE_INTEGER);
  const tag = entityTag(body);
  header.set("etag", tag);
  if (noneMatchHits(ifNoneMatch, tag)) {
    // A 304 carries the validators and caching headers, not the representation's.
    const notModified = new Headers();
    for (const name of ["etag", "cache-control", "vary"]) {
      const value = header.get(name);
      if (value !== null) notModified.set(name, value);
    }
    return { status: 304, header: notModified, body: undefined, trailer: undefined };
  }
  header.set("content-length", String(body.byteLength));
  return { ...uRes, header, body: createAsyncIterable([body]) };
}
