// The gateway deployable (see manifest.ts): the storefront API for browsers
// (Connect over HTTP/1.1) and gRPC clients (h2c) on one port, plus the web
// app and the JWKS on the same origin. No database, no events.
import type { DescMethod } from "@bufbuild/protobuf";
import { StorefrontService } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { implement } from "@shop/runtime/server";
import type { ServiceDefinition } from "@shop/runtime/service";
import { jwksVerifier } from "@shop/runtime/tokens";
import { callerAuthenticator } from "./caller-auth.ts";
import { CatalogReadCache, storefrontHttpCaching } from "./catalog-cache.ts";
import { loadGatewayConfig } from "./config.ts";
import { CorsPolicy } from "./cors.ts";
import { callerErrorInterceptor } from "./downstream-errors.ts";
import { gatewayRoutes } from "./http-routes.ts";
import { JwksDocument } from "./jwks-document.ts";
import { manifest } from "./manifest.ts";
import { StaticFiles } from "./static-files.ts";
import { storefrontService } from "./storefront-service.ts";
import { ensureWebBuild } from "./web-build.ts";

export const definition = {
  manifest,
  async setup({ clients, config: base, env, logger, tokenSettings, telemetry, onStop }) {
    const config = loadGatewayConfig(env);
    const reads = telemetry.meter.createCounter("gateway.catalog_cache.reads", {
      description:
        "Catalog reads of the storefront's cached methods, by result: hit, miss, or bypass (change stream not live)",
    });
    // One attribute object per result and method, not one per read.
    type ReadAttributes = { result: string; "rpc.method": string };
    const readAttributes = new Map<DescMethod, Map<string, ReadAttributes>>();
    const catalogCache = new CatalogReadCache(clients.catalog, {
      settings: config.catalogCache,
      logger,
      silenceMs: 3 * base.STREAM_HEARTBEAT_MS,
      onRead: (result, method) => {
        let byResult = readAttributes.get(method);
        if (!byResult) readAttributes.set(method, (byResult = new Map<string, ReadAttributes>()));
        let attributes = byResult.get(result);
        if (!attributes) byResult.set(result, (attributes = { result, "rpc.method": method.name }));
        reads.add(1, attributes);
      },
    });
    catalogCache.start();
    onStop(() => catalogCache.stop());
    const distDir = await ensureWebBuild({ logger, production: env.NODE_ENV === "production" });
    const verifier = jwksVerifier(clients.identity, tokenSettings);
    return {
      services: [
        implement(
          StorefrontService,
          storefrontService(clients, (ctx) => catalogCache.readsFor(ctx)),
        ),
      ],
      interceptors: [callerErrorInterceptor(logger)],
      authenticate: callerAuthenticator(verifier),
      http: {
        http1OnSamePort: true,
        httpCaching: storefrontHttpCaching,
        httpHandler: gatewayRoutes({
          cors: new CorsPolicy(config.corsOrigins),
          jwks: new JwksDocument(clients.identity, logger),
          web: new StaticFiles(distDir),
          logger,
        }),
      },
    };
  },
} satisfies ServiceDefinition<typeof manifest, Record<string, never>>;
