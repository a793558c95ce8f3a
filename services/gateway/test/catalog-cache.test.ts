// The gateway's catalog read cache against the real system (identity,
// catalog, inventory, gateway in-process, on a nats-server of this file's
// own so the catalog's connection to it can be cut): a cached read does not
// reach the catalog while stock stays live, a price change invalidates it,
// reads bypass the cache while the change stream is down and cache again
// once it is back, the bounds hold, and browsers get ETags and 304s over
// Connect GET.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { GetProductRequestSchema, StorefrontService } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { createLogger } from "@shop/runtime/log";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogSink } from "../../../tests/observability/log-sink.ts";
import { bearer, eventually, freePort, startSystem, type TestSystem } from "../../../tests/support/system.ts";
import { CACHED_STOREFRONT_METHODS, CatalogReadCache } from "../src/catalog-cache.ts";
import { accessLogLines } from "./access-log-lines.ts";
import { overHttp1, type Storefront } from "./shopper.ts";

let system: TestSystem;
let logs: LogSink;
let shop: Storefront;
let nats: ChildProcess | undefined;
let natsPort: number;
let natsStore: string;

/** Starts nats-server -js on natsPort; resolves once it is ready. */
async function startNats(): Promise<void> {
  const child = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(natsPort), "-sd", natsStore], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  nats = child;
  await new Promise<void>((resolve, reject) => {
    let seen = "";
    child.stderr.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes("Server is ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`nats-server exited (${String(code)}): ${seen}`)));
  });
}

async function stopNats(): Promise<void> {
  const child = nats;
  nats = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

const catalogCalls = (method: string) => accessLogLines(logs, "catalog", method).length;
const gatewayLines = (msg: string) =>
  logs.records().filter((r) => r.service === "gateway" && typeof r.msg === "string" && r.msg.startsWith(msg)).length;

beforeAll(async () => {
  natsPort = await freePort();
  natsStore = mkdtempSync(path.join(tmpdir(), "catalog-cache-nats-"));
  await startNats();
  logs = new LogSink();
  system = await startSystem(["identity", "catalog", "inventory", "gateway"], {
    env: {
      NATS_URL: `nats://127.0.0.1:${String(natsPort)}`,
      LOG_LEVEL: "info",
      // The stream reconnects quickly after the outage below.
      STREAM_HEARTBEAT_MS: "1000",
    },
    logs,
  });
  shop = overHttp1(system.url("gateway"));
  await eventually("the gateway's catalog cache to go live", () => gatewayLines("catalog cache live") > 0);
});

afterAll(async () => {
  await system?.stop();
  await stopNats();
  rmSync(natsStore, { recursive: true, force: true });
});

async function someProduct(offset = 0) {
  const { products } = await system.client(CatalogService).listProducts({ pageSize: 20 });
  return products[offset];
}

describe("derived from the contracts", () => {
  it("caches the public catalog reads of the storefront and nothing per-user", () => {
    expect([...CACHED_STOREFRONT_METHODS].map((m) => m.name).sort()).toEqual([
      "GetProduct",
      "ListCategories",
      "ListProducts",
      "SearchProducts",
    ]);
  });
});

describe("the gateway's cache", () => {
  it("serves a repeated read without calling the catalog, with live stock", async () => {
    const product = await someProduct(0);
    const first = await shop.getProduct({ productId: product.id });
    const calls = catalogCalls("GetProduct");
    const stockCalls = accessLogLines(logs, "inventory", "BatchGetStock").length;
    for (let i = 0; i < 5; i++) await shop.getProduct({ productId: product.id });
    expect(catalogCalls("GetProduct")).toBe(calls);
    // Stock is asked for every time, and a restock shows at once.
    expect(accessLogLines(logs, "inventory", "BatchGetStock").length).toBe(stockCalls + 5);
    const admin = await system.adminToken();
    await system
      .client(InventoryService)
      .restock({ restockId: crypto.randomUUID(), productId: product.id, quantity: 3n }, { headers: bearer(admin) });
    const after = await shop.getProduct({ productId: product.id });
    expect(after.product!.available).toBe(first.product!.available + 3n);
    expect(catalogCalls("GetProduct")).toBe(calls);
  });

  it("caches listings and categories too", async () => {
    await shop.listProducts({ categoryId: "kitchen", pageSize: 5 });
    await shop.listCategories({});
    const lists = catalogCalls("ListProducts");
    const categories = catalogCalls("ListCategories");
    await shop.listProducts({ categoryId: "kitchen", pageSize: 5 });
    await shop.listCategories({});
    expect(catalogCalls("ListProducts")).toBe(lists);
    expect(catalogCalls("ListCategories")).toBe(categories);
    // A different request is a different entry.
    await shop.listProducts({ categoryId: "kitchen", pageSize: 6 });
    expect(catalogCalls("ListProducts")).toBe(lists + 1);
  });

  it("a price change (PriceChanged) invalidates: the next reads show the new price", async () => {
    const product = await someProduct(1);
    const before = (await shop.getProduct({ productId: product.id })).product!.product!;
    const listed = async () =>
      (await shop.listProducts({ categoryId: product.categoryId, pageSize: 100 })).products.find(
        (v) => v.product!.id === product.id,
      )!.product!.price!.amountMinor;
    expect(await listed()).toBe(before.price!.amountMinor);
    const newPrice = before.price!.amountMinor + 101n;
    const admin = await system.adminToken();
    await system
      .client(CatalogService)
      .updateProduct(
        { productId: product.id, price: { currencyCode: before.price!.currencyCode, amountMinor: newPrice } },
        { headers: bearer(admin) },
      );
    await eventually(
      "the gateway to show the new price",
      async () => (await shop.getProduct({ productId: product.id })).product!.product!.price!.amountMinor === newPrice,
      { timeoutMs: 10_000 },
    );
    expect(await listed()).toBe(newPrice);
    // And it is cached again from there.
    const calls = catalogCalls("GetProduct");
    await shop.getProduct({ productId: product.id });
    expect(catalogCalls("GetProduct")).toBe(calls);
  });

  it("a new product (ProductCreated) shows in cached listings", async () => {
    const admin = await system.adminToken();
    const sku = `CACHE-${String(Date.now())}`;
    const count = async () => (await shop.listProducts({ categoryId: "toys", pageSize: 100 })).totalSize;
    const before = await count();
    await system.client(CatalogService).createProduct(
      {
        sku,
        name: "Cache test kite",
        description: "",
        categoryId: "toys",
        price: { currencyCode: "EUR", amountMinor: 999n },
      },
      { headers: bearer(admin) },
    );
    await eventually("the new product in the gateway's listing", async () => (await count()) === before + 1, {
      timeoutMs: 10_000,
    });
  });

  it("bypasses the cache while the change stream is down, and caches again once it is back", async () => {
    const product = await someProduct(2);
    await shop.getProduct({ productId: product.id });
    const broken = gatewayLines("catalog change stream");
    const lives = gatewayLines("catalog cache live");
    await stopNats();
    // The catalog loses NATS, so it ends the stream: it could miss changes.
    await eventually("the gateway to see its change stream end", () => gatewayLines("catalog change stream") > broken);
    let calls = catalogCalls("GetProduct");
    for (let i = 0; i < 3; i++) {
      await shop.getProduct({ productId: product.id });
      expect(catalogCalls("GetProduct")).toBe(calls + 1);
      calls++;
    }
    await startNats();
    await eventually("the gateway's cache to go live again", () => gatewayLines("catalog cache live") > lives, {
      timeoutMs: 20_000,
    });
    await shop.getProduct({ productId: product.id });
    calls = catalogCalls("GetProduct");
    await shop.getProduct({ productId: product.id });
    expect(catalogCalls("GetProduct")).toBe(calls);
  });
});

describe("bounds", () => {
  const getProduct = [...CACHED_STOREFRONT_METHODS].find((m) => m.name === "GetProduct")!;

  async function cacheOf(settings: { maxEntries: number; maxBytes: number }, catalog = system.client(CatalogService)) {
    const cache = new CatalogReadCache(catalog, {
      settings: { ...settings, ttlMs: 30_000 },
      logger: createLogger("cache-test", { level: "silent" }),
      silenceMs: 10_000,
    });
    cache.start();
    await eventually("the cache to go live", () => cache.live);
    return cache;
  }

  it("keeps at most CATALOG_CACHE_ENTRIES answers, dropping the least recently used", async () => {
    const cache = await cacheOf({ maxEntries: 3, maxBytes: 1024 * 1024 });
    try {
      const { products } = await system.client(CatalogService).listProducts({ pageSize: 6 });
      const reads = cache.readsFor({ method: getProduct });
      for (const p of products) await reads.getProduct({ productId: p.id });
      expect(cache.size.entries).toBe(3);
      // The newest three are hits, the oldest was dropped.
      const misses = cache.stats.misses;
      for (const p of products.slice(3)) await reads.getProduct({ productId: p.id });
      expect(cache.stats.misses).toBe(misses);
      await reads.getProduct({ productId: products[0].id });
      expect(cache.stats.misses).toBe(misses + 1);
    } finally {
      await cache.stop();
    }
  });

  it("keeps at most CATALOG_CACHE_BYTES", async () => {
    const cache = await cacheOf({ maxEntries: 1000, maxBytes: 1024 });
    try {
      const { products } = await system.client(CatalogService).listProducts({ pageSize: 20 });
      const reads = cache.readsFor({ method: getProduct });
      for (const p of products) await reads.getProduct({ productId: p.id });
      expect(cache.size.bytes).toBeLessThanOrEqual(1024);
      expect(cache.size.entries).toBeGreaterThan(0);
      expect(cache.size.entries).toBeLessThan(products.length);
    } finally {
      await cache.stop();
    }
  });

  it("reads of other storefront methods go to the catalog as they are", async () => {
    const catalog = system.client(CatalogService);
    const cache = await cacheOf({ maxEntries: 10, maxBytes: 1024 * 1024 }, catalog);
    try {
      const signUp = StorefrontService.method.signUp;
      expect(cache.readsFor({ method: signUp }).getProduct).toBe(catalog.getProduct);
    } finally {
      await cache.stop();
    }
  });
});

describe("browsers: Connect GET with ETag", () => {
  async function getOverHttp(productId: string, headers: Record<string, string> = {}) {
    const message = Buffer.from(toBinary(GetProductRequestSchema, create(GetProductRequestSchema, { productId })));
    const query = new URLSearchParams({
      connect: "v1",
      encoding: "proto",
      base64: "1",
      message: message.toString("base64url"),
    });
    return fetch(`${system.url("gateway")}/shop.storefront.v1.StorefrontService/GetProduct?${query.toString()}`, {
      headers,
    });
  }

  it("answers a cacheable read with an ETag and Cache-Control, and 304 when it still matches", async () => {
    const product = await someProduct(3);
    const first = await getOverHttp(product.id);
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("public, no-cache");
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect((await first.arrayBuffer()).byteLength).toBeGreaterThan(0);

    const again = await getOverHttp(product.id, { "if-none-match": etag! });
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(etag);
    expect((await again.arrayBuffer()).byteLength).toBe(0);

    // Stock is part of the answer: a restock changes the tag.
    const admin = await system.adminToken();
    await system
      .client(InventoryService)
      .restock({ restockId: crypto.randomUUID(), productId: product.id, quantity: 1n }, { headers: bearer(admin) });
    const changed = await getOverHttp(product.id, { "if-none-match": etag! });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
  });

  it("errors and per-user reads are never stored", async () => {
    const missing = await getOverHttp("01970000-0000-7000-8000-00000000beef");
    expect(missing.status).toBe(404);
    expect(missing.headers.get("cache-control")).toBe("no-store");
    expect(missing.headers.get("etag")).toBeNull();

    const query = new URLSearchParams({ connect: "v1", encoding: "json", message: "{}" });
    const account = await system.signUp("Cache Tester");
    const me = await fetch(`${system.url("gateway")}/shop.storefront.v1.StorefrontService/GetMe?${query.toString()}`, {
      headers: { authorization: `Bearer ${account.token}` },
    });
    expect(me.status).toBe(200);
    expect(me.headers.get("cache-control")).toBe("private, no-store");
    expect(me.headers.get("etag")).toBeNull();
  });
});
