// Composition of catalog products with inventory stock: one BatchGetStock per
// page, whatever its size, and products inventory does not know have none;
// a single product's stock asked alongside the product, not after it.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { GetProductResponseSchema, ProductSchema } from "@shop/gen/shop/catalog/v1/catalog_pb";
import {
  BatchGetStockResponseSchema,
  StockLevelSchema,
  type BatchGetStockRequest,
} from "@shop/gen/shop/inventory/v1/inventory_pb";
import { GetProductRequestSchema as StorefrontGetProductRequestSchema } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { describe, expect, it, vi } from "vitest";
import { withStock } from "../src/product-views.ts";
import { storefrontService } from "../src/storefront-service.ts";

const product = (n: number) =>
  create(ProductSchema, { id: `01970000-0000-7000-8000-${String(n).padStart(12, "0")}`, name: `p${n}` });

function fakeInventory(levels: Record<string, bigint>) {
  const calls: string[][] = [];
  return {
    calls,
    async batchGetStock(req: { productIds: string[] } | BatchGetStockRequest) {
      calls.push([...req.productIds]);
      return create(BatchGetStockResponseSchema, {
        stock: req.productIds
          .filter((id) => id in levels)
          .map((productId) => create(StockLevelSchema, { productId, available: levels[productId] })),
      });
    },
  };
}

describe("withStock", () => {
  it("asks inventory once for the whole page and keeps the catalog's order", async () => {
    const products = Array.from({ length: 20 }, (_, i) => product(i));
    const inventory = fakeInventory(Object.fromEntries(products.map((p, i) => [p.id, BigInt(i * 3)])));
    const views = await withStock(inventory as never, products, new AbortController().signal);
    expect(inventory.calls).toHaveLength(1);
    expect(inventory.calls[0]).toHaveLength(20);
    expect(views.map((v) => v.product!.name)).toEqual(products.map((p) => p.name));
    expect(views.map((v) => v.available)).toEqual(products.map((_, i) => BigInt(i * 3)));
  });

  it("shows zero for a product inventory has never stocked", async () => {
    const inventory = fakeInventory({});
    const [view] = await withStock(inventory as never, [product(1)], new AbortController().signal);
    expect(view.available).toBe(0n);
  });

  it("does not call inventory for an empty page", async () => {
    const inventory = fakeInventory({});
    expect(await withStock(inventory as never, [], new AbortController().signal)).toEqual([]);
    expect(inventory.calls).toHaveLength(0);
  });
});

describe("StorefrontService.GetProduct", () => {
  const ctx = { signal: new AbortController().signal } as HandlerContext;
  /** The storefront's GetProduct with these stand-ins for inventory and catalog. */
  const getProduct = (inventory: object, catalog: object, productId: string) =>
    storefrontService({ inventory } as never, () => catalog as never).getProduct(
      create(StorefrontGetProductRequestSchema, { productId }),
      ctx,
    );

  it("asks catalog and inventory at once", async () => {
    const p = product(7);
    const inventory = fakeInventory({ [p.id]: 4n });
    let release: () => void = () => undefined;
    const catalog = {
      getProduct: async () => {
        // Answers only once inventory has been asked: sequential calls would never finish.
        await new Promise<void>((resolve) => (release = resolve));
        return create(GetProductResponseSchema, { product: p });
      },
    };
    const answer = getProduct(inventory, catalog, p.id);
    await vi.waitUntil(() => inventory.calls.length === 1);
    release();
    const { product: view } = await answer;
    expect(view?.product?.name).toBe(p.name);
    expect(view?.available).toBe(4n);
  });

  it("answers with the catalog's failure when both fail", async () => {
    const inventory = { batchGetStock: () => Promise.reject(new ConnectError("down", Code.Unavailable)) };
    const catalog = { getProduct: () => Promise.reject(new ConnectError("no such product", Code.NotFound)) };
    await expect(getProduct(inventory, catalog, product(1).id)).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("answers the catalog's NotFound at once while inventory hangs, and abandons the stock read", async () => {
    let stockSignal: AbortSignal | undefined;
    const inventory = {
      batchGetStock: (_req: unknown, options: { signal: AbortSignal }) => {
        stockSignal = options.signal;
        return new Promise<never>((_, reject) =>
          options.signal.addEventListener("abort", () => reject(new ConnectError("cancelled", Code.Canceled))),
        );
      },
    };
    const catalog = { getProduct: () => Promise.reject(new ConnectError("no such product", Code.NotFound)) };
    await expect(getProduct(inventory, catalog, product(1).id)).rejects.toMatchObject({ code: Code.NotFound });
    expect(stockSignal?.aborted).toBe(true);
  });

  it("fails with inventory's failure when only inventory fails", async () => {
    const inventory = { batchGetStock: () => Promise.reject(new ConnectError("down", Code.Unavailable)) };
    const catalog = { getProduct: async () => create(GetProductResponseSchema, { product: product(1) }) };
    await expect(getProduct(inventory, catalog, product(1).id)).rejects.toMatchObject({ code: Code.Unavailable });
  });
});
