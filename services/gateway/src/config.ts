// The gateway's own settings, on top of the runtime's (PORT, HOST, <DEP>_ADDR...).
import { ConfigError, env, loadConfig } from "@shop/runtime/config";
import { z } from "zod";

export interface GatewayConfig {
  /** Other origins whose pages may call the API (the web app itself is same-origin). From CORS_ORIGINS. */
  corsOrigins: string[];
  /** The catalog read cache's bounds (catalog-cache.ts). */
  catalogCache: CatalogCacheSettings;
}

export interface CatalogCacheSettings {
  /** Most catalog answers kept; 0 turns the cache off. From CATALOG_CACHE_ENTRIES. */
  maxEntries: number;
  /** Most bytes kept (answers' encoded size plus their keys). From CATALOG_CACHE_BYTES. */
  maxBytes: number;
  /** How long an answer is kept at most, even without a change event (a safety net). From CATALOG_CACHE_TTL_MS. */
  ttlMs: number;
}

export const DEFAULT_CATALOG_CACHE: CatalogCacheSettings = {
  maxEntries: 5000,
  maxBytes: 16 * 1024 * 1024,
  ttlMs: 30_000,
};

const cacheSchema = z.object({
  CATALOG_CACHE_ENTRIES: env.int({ min: 0, max: 1_000_000, default: DEFAULT_CATALOG_CACHE.maxEntries }),
  CATALOG_CACHE_BYTES: env.bytes({ min: 1024, max: 1024 ** 3, default: DEFAULT_CATALOG_CACHE.maxBytes }),
  CATALOG_CACHE_TTL_MS: env.int({ min: 1, max: 3_600_000, default: DEFAULT_CATALOG_CACHE.ttlMs }),
});

/** Throws a ConfigError naming the variable, like the runtime's own settings. */
export function loadGatewayConfig(env: Record<string, string | undefined>): GatewayConfig {
  const raw = env.CORS_ORIGINS ?? "";
  const corsOrigins = parseOrigins(raw);
  if (!corsOrigins) {
    throw new ConfigError([
      `CORS_ORIGINS must be a comma-separated list of origins such as http://localhost:5173,https://shop.example.com (got ${JSON.stringify(raw)})`,
    ]);
  }
  const cache = loadConfig(cacheSchema, env);
  return {
    corsOrigins,
    catalogCache: {
      maxEntries: cache.CATALOG_CACHE_ENTRIES,
      maxBytes: cache.CATALOG_CACHE_BYTES,
      ttlMs: cache.CATALOG_CACHE_TTL_MS,
    },
  };
}

/** Scheme, host and optional port, nothing else (no path, no trailing slash); undefined if any entry is not. */
function parseOrigins(raw: string): string[] | undefined {
  const origins = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const valid = origins.every(
    (o) => URL.canParse(o) && /^https?:$/.test(new URL(o).protocol) && new URL(o).origin === o,
  );
  return valid ? origins : undefined;
}
