// Serves the built web app (services/gateway/web/dist) for GET and HEAD:
// files with their content type, hashed assets cached for a year, everything
// else revalidated, and the SPA fallback: a path that names no file and has
// no extension (a client-side route such as /orders/0197...) gets index.html.
import { createReadStream, type Stats } from "node:fs";
import { stat } from "node:fs/promises";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

/** Vite puts content-hashed files under assets/: their URL changes whenever they do. */
const HASHED_ASSET = /^\/assets\//;
const IMMUTABLE = "public, max-age=31536000, immutable";
/** index.html must be revalidated so a new deploy's asset names are picked up at once. */
const REVALIDATE = "no-cache";
/** Unhashed static files (product images): short caching is enough. */
const SHORT = "public, max-age=3600";

const COMPRESSIBLE = /^(text\/|application\/json|image\/svg\+xml|application\/manifest)/;

export class StaticFiles {
  constructor(private readonly root: string) {}

  async serve(req: Request, res: Response): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.statusCode = 405;
      res.setHeader("allow", "GET, HEAD");
      res.end();
      return;
    }
    const urlPath = decodedPath(req.url ?? "/");
    if (urlPath === undefined) {
      notFound(res);
      return;
    }
    // Source maps would publish the app's sources: builds make none, and a
    // stray one (a local debug build) is never served either.
    if (urlPath.endsWith(".map")) {
      notFound(res);
      return;
    }
    const file = await this.find(urlPath);
    if (file)
      return send(
        req,
        res,
        file.path,
        file.stats,
        HASHED_ASSET.test(urlPath) ? IMMUTABLE : file.path.endsWith(".html") ? REVALIDATE : SHORT,
      );
    if (path.posix.extname(urlPath) !== "") {
      notFound(res);
      return;
    }
    const index = await this.find("/index.html");
    if (!index) {
      notFound(res, "the web app is not built");
      return;
    }
    return send(req, res, index.path, index.stats, REVALIDATE);
  }

  /** The regular file at `urlPath` inside the root (index.html for a directory), never outside it. */
  private async find(urlPath: string): Promise<{ path: string; stats: Stats } | undefined> {
    const resolved = path.resolve(this.root, `.${urlPath}`);
    if (resolved !== this.root && !resolved.startsWith(this.root + path.sep)) return undefined;
    const candidates = urlPath.endsWith("/") ? [path.join(resolved, "index.html")] : [resolved];
    for (const candidate of candidates) {
      const stats = await stat(candidate).catch(() => undefined);
      if (stats?.isFile()) return { path: candidate, stats };
    }
    return undefined;
  }
}

function decodedPath(url: string): string | undefined {
  const pathname = url.split("?")[0].split("#")[0];
  try {
    const decoded = decodeURIComponent(pathname);
    return decoded.includes("\0") ? undefined : decoded;
  } catch {
    return undefined;
  }
}

async function send(req: Request, res: Response, file: string, stats: Stats, cacheControl: string): Promise<void> {
  const etag = `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
  const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
  res.setHeader("content-type", type);
  res.setHeader("cache-control", cacheControl);
  res.setHeader("etag", etag);
  res.setHeader("x-content-type-options", "nosniff");
  if (req.headers["if-none-match"] === etag) {
    res.statusCode = 304;
    res.end();
    return;
  }
  const gzip = COMPRESSIBLE.test(type) && stats.size > 1024 && /\bgzip\b/.test(req.headers["accept-encoding"] ?? "");
  const vary = res.getHeader("vary");
  res.setHeader("vary", vary ? `${String(vary)}, accept-encoding` : "accept-encoding");
  if (gzip) res.setHeader("content-encoding", "gzip");
  else res.setHeader("content-length", String(stats.size));
  res.statusCode = 200;
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  const source = createReadStream(file);
  await pipeline(
    gzip ? [source, createGzip(), res as NodeJS.WritableStream] : [source, res as NodeJS.WritableStream],
  ).catch(() => {
    // The client went away mid-file; nothing to answer.
    res.destroy();
  });
}

function notFound(res: Response, message = "not found"): void {
  res.statusCode = 404;
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.end(message);
}
