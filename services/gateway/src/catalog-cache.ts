// The gateway's in-process cache of catalog reads (the contracts' caching
// strategy: reads marked NO_SIDE_EFFECTS may be cached; see DESIGN.md).
//
// What is cached is decided by the descriptors, not by a list here:
// - the storefront methods that read through it are the unary, public
//   (caller-independent) NO_SIDE_EFFECTS ones whose answer carries catalog
//   messages (shop.catalog.v1): ListCategories, ListProducts, SearchProducts
//   and GetProduct today;
// - of the catalog calls those handlers make, the unary NO_SIDE_EFFECTS ones
//   are answered from the cache; anything else goes to the catalog.
// Stock stays live: ListProducts, SearchProducts and GetProduct answer
// catalog products *with* stock (ProductView.available), so only their
// catalog part is cached (the catalog's answer, keyed by its request) and
// every call still asks inventory for the stock of what it shows
// (product-views.ts). Nothing from inventory is ever cached.
//
// Invalidation: the catalog's WatchCatalogChanges stream (fed by its own
// ProductCreated and PriceChanged events; the gateway has no NATS access).
// Any change empties the whole cache: changes are rare (admin edits), and a
// price change reorders and alters every listing and search page the
// product is on, which no key says. So a price is never stale for longer
// than the event takes to arrive. While the stream is not live (not yet
// connected, broken, or reconnecting) every read bypasses the cache and goes
// to the catalog; when it becomes live again the cache starts empty. A read
// that was already on its way to the catalog when a change arrived is not
// stored (its answer may predate the change). Entries also expire after
// CATALOG_CACHE_TTL_MS as a safety net (e.g. edits other than the price,
// which publish no event), and the whole is bounded by entries and bytes
// (an LRU).
import { create, toBinary, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { CallOptions, Client } from "@connectrpc/connect";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { StorefrontService } from "@shop/gen/shop/storefront/v1/storefront_pb";
import type { Logger } from "@shop/runtime/log";
import { setTimeout as sleep } from "node:timers/promises";
import { LRUCache } from "lru-cache";
import type { CatalogCacheSettings } from "./config.ts";
import { manifest } from "./manifest.ts";

const CATALOG_PACKAGE = CatalogService.file.proto.package;

/** Whether `message` (or a message it holds, at any depth) is one of the catalog's. */
function carriesCatalogData(message: DescMessage, seen = new Set<string>()): boolean {
  if (seen.has(message.typeName)) return false;
  seen.add(message.typeName);
  if (message.file.proto.package === CATALOG_PACKAGE) return true;
  return message.fields.some((field) => {
    const held = field.fieldKind === "message" ? field.message : field.fieldKind === "list" ? field.message : undefined;
    const mapped = field.fieldKind === "map" && field.mapKind === "message" ? field.message : undefined;
    const inner = held ?? mapped;
    return inner !== undefined && carriesCatalogData(inner, seen);
  });
}

const isRead = (method: DescMethod) =>
  method.methodKind === "unary" && method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;

/**
 * The storefront methods whose catalog reads are cached: unary,
 * NO_SIDE_EFFECTS, public (so the answer is the same whoever asks) and
 * carrying catalog data.
 */
export function cachedStorefrontMethods(
  storefront: DescService = StorefrontService,
  publicMethods: readonly string[] = manifest.publicMethods ?? [],
): DescMethod[] {
  return storefront.methods.filter(
    (m) => isRead(m) && publicMethods.includes(m.localName) && carriesCatalogData(m.output),
  );
}

export const CACHED_STOREFRONT_METHODS: ReadonlySet<DescMethod> = new Set(cachedStorefrontMethods());

type CatalogClient = Pick<Client<typeof CatalogService>, (typeof manifest.dependsOn.catalog.methods)[number]>;

/** The catalog calls the storefront's catalog reads make. */
export type CatalogReads = Pick<
  CatalogClient,
  "getProduct" | "batchGetProducts" | "listProducts" | "searchProducts" | "listCategories"
>;

/** The catalog reads that may be answered from the cache: its unary NO_SIDE_EFFECTS methods the gateway calls. */
const CACHED_CATALOG_METHODS = CatalogService.methods.filter(
  (m) => isRead(m) && (manifest.dependsOn.catalog.methods as readonly string[]).includes(m.localName),
);

export interface CatalogCacheStats {
  hits: number;
  misses: number;
  /** Reads sent to the catalog because the change stream was not live. */
  bypassed: number;
  /** Times the cache was emptied by a change (or by the stream becoming live). */
  flushes: number;
}

export interface CatalogCacheOptions {
  settings: CatalogCacheSettings;
  logger: Logger;
  /**
   * A stream that sent nothing (not even a heartbeat) for this long is taken
   * for dead and reopened; three of the catalog's heartbeat intervals.
   */
  silenceMs: number;
  /** First wait before reopening a broken stream; doubled up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Told whether each cached-method read was a hit, a miss or bypassed (metrics). */
  onRead?: (result: "hit" | "miss" | "bypass", method: DescMethod) => void;
}

interface Entry {
  response: unknown;
  /** The answer's encoded size. */
  bytes: number;
}

export class CatalogReadCache {
  readonly #catalog: CatalogClient;
  readonly #options: CatalogCacheOptions;
  readonly #entries: LRUCache<string, Entry> | undefined;
  readonly #cached: CatalogReads;
  readonly #stopping = new AbortController();
  #live = false;
  /** Bumped by every flush: a read that started before one does not store its answer. */
  #generation = 0;
  #following: Promise<void> | undefined;
  readonly stats: CatalogCacheStats = { hits: 0, misses: 0, bypassed: 0, flushes: 0 };

  constructor(catalog: CatalogClient, options: CatalogCacheOptions) {
    this.#catalog = catalog;
    this.#options = options;
    const { maxEntries, maxBytes, ttlMs } = options.settings;
    this.#entries =
      maxEntries > 0
        ? new LRUCache<string, Entry>({
            max: maxEntries,
            maxSize: maxBytes,
            // Stored answers are shared by every caller that reads them: treated as immutable.
            sizeCalculation: (entry, key) => key.length + entry.bytes,
            ttl: ttlMs,
            // Expired entries are dropped when read or pushed out; no timers.
            ttlAutopurge: false,
          })
        : undefined;
    const cached: Record<string, unknown> = {};
    for (const method of CACHED_CATALOG_METHODS) {
      const call = (catalog as unknown as Record<string, (req: unknown, options?: CallOptions) => Promise<unknown>>)[
        method.localName
      ];
      cached[method.localName] = (req: unknown, callOptions?: CallOptions) =>
        this.#read(method, req, () => call(req, callOptions));
    }
    this.#cached = { ...catalog, ...cached };
  }

  /** Whether the change stream is live, i.e. whether cached answers are used. */
  get live(): boolean {
    return this.#live;
  }

  /** Entries and bytes held now. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.#entries?.size ?? 0, bytes: this.#entries?.calculatedSize ?? 0 };
  }

  /**
   * The catalog client for the handler of `ctx.method`: reads through the
   * cache for the cached storefront methods, the catalog itself for the rest.
   */
  readsFor(ctx: { method: DescMethod }): CatalogReads {
    return CACHED_STOREFRONT_METHODS.has(ctx.method) ? this.#cached : this.#catalog;
  }

  async #read(method: DescMethod, req: unknown, call: () => Promise<unknown>): Promise<unknown> {
    const entries = this.#entries;
    if (!entries || !this.#live) {
      this.stats.bypassed++;
      this.#options.onRead?.("bypass", method);
      return call();
    }
    const key = `${method.name}:${Buffer.from(toBinary(method.input, create(method.input, req as never))).toString("base64")}`;
    const hit = entries.get(key);
    if (hit) {
      this.stats.hits++;
      this.#options.onRead?.("hit", method);
      return hit.response;
    }
    this.stats.misses++;
    this.#options.onRead?.("miss", method);
    const generation = this.#generation;
    const response = await call();
    if (this.#unchangedSince(generation)) {
      // One larger than the whole byte budget is not stored (lru-cache refuses it).
      entries.set(key, { response, bytes: toBinary(method.output, response as never).byteLength });
    }
    return response;
  }

  /** Whether the stream is live and nothing changed since `generation` (read after an await). */
  #unchangedSince(generation: number): boolean {
    return this.#live && generation === this.#generation;
  }

  #flush(): void {
    this.#generation++;
    this.stats.flushes++;
    this.#entries?.clear();
  }

  /** Follows the change stream until stop(); the cache is used only while it is live. */
  start(): void {
    this.#following ??= this.#follow();
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#following;
  }

  async #follow(): Promise<void> {
    const { logger, silenceMs } = this.#options;
    const minBackoff = this.#options.minBackoffMs ?? 100;
    const maxBackoff = this.#options.maxBackoffMs ?? 5_000;
    let backoff = minBackoff;
    const stopping = this.#stopping.signal;
    // Read through a call: the loop's awaits can change it.
    const stopped = () => stopping.aborted;
    while (!stopped()) {
      const attempt = new AbortController();
      const abortAttempt = () => attempt.abort();
      stopping.addEventListener("abort", abortAttempt, { once: true });
      let watchdog: NodeJS.Timeout | undefined;
      const quiet = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(abortAttempt, silenceMs);
      };
      try {
        quiet();
        for await (const { update } of this.#catalog.watchCatalogChanges({}, { signal: attempt.signal })) {
          quiet();
          if (update.case === "live") {
            this.#flush();
            this.#live = true;
            backoff = minBackoff;
            logger.info("catalog cache live: following catalog changes");
          } else if (update.case === "change") {
            this.#flush();
          }
        }
        if (!stopped()) logger.warn("catalog change stream ended: catalog reads bypass the cache");
      } catch (err) {
        if (!stopped()) {
          logger.warn(
            { err, silent: attempt.signal.aborted },
            "catalog change stream broken: catalog reads bypass the cache",
          );
        }
      } finally {
        clearTimeout(watchdog);
        stopping.removeEventListener("abort", abortAttempt);
        // Changes may be missed from here on: nothing cached is trusted until live again.
        this.#live = false;
        this.#flush();
      }
      if (stopped()) return;
      const wait = backoff / 2 + Math.random() * (backoff / 2);
      backoff = Math.min(backoff * 2, maxBackoff);
      // Cut short by stop(); the loop then ends.
      await sleep(wait, undefined, { signal: stopping }).catch(() => undefined);
    }
  }
}

/**
 * Browsers' and HTTP caches' part (Connect GET, see the web app's transport
 * and the runtime's conditional-get.ts): the cached storefront methods'
 * answers may be stored by any cache but must be revalidated every time
 * (`no-cache`), since their stock is live; the ETag makes that a 304 when
 * nothing changed. The caller's own reads (GetMe, GetOrder...) are never
 * stored. Other methods (health, reflection) get no caching headers.
 */
export function storefrontHttpCaching(method: DescMethod): string | undefined {
  if (CACHED_STOREFRONT_METHODS.has(method)) return "public, no-cache";
  if (method.parent.typeName === StorefrontService.typeName) return "private, no-store";
  return undefined;
}
