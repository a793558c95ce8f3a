// Everything the gateway answers over HTTP, in order: CORS (preflights end
// here), RPC paths to Connect/gRPC/gRPC-Web, the JWKS, and the web app for
// every other GET.
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { Logger } from "@shop/runtime/log";
import type { HttpHandler } from "@shop/runtime/server";
import type { CorsPolicy } from "./cors.ts";
import { JWKS_PATH, type JwksDocument } from "./jwks-document.ts";
import type { StaticFiles } from "./static-files.ts";

/** RPC paths are /<package>.<Service>/<Method>: ours, grpc.health and grpc.reflection. */
const RPC_PATH = /^\/(shop|grpc)\.[A-Za-z0-9_.]+\/[A-Za-z0-9_]+$/;

export function isRpcPath(urlPath: string): boolean {
  return RPC_PATH.test(urlPath);
}

export function gatewayRoutes(parts: {
  cors: CorsPolicy;
  jwks: JwksDocument;
  web: StaticFiles;
  logger: Logger;
}): (rpc: HttpHandler) => HttpHandler {
  return (rpc) =>
    (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
      if (parts.cors.apply(req, res) === "answered") return;
      const urlPath = (req.url ?? "/").split("?")[0];
      if (isRpcPath(urlPath)) {
        rpc(req, res);
        return;
      }
      const answer = urlPath === JWKS_PATH ? parts.jwks.serve(req, res) : parts.web.serve(req, res);
      answer.catch((err: unknown) => {
        parts.logger.error({ err, path: urlPath }, "http request failed");
        if (!res.headersSent) {
          res.statusCode = 500;
          res.end();
        } else {
          res.destroy();
        }
      });
    };
}
