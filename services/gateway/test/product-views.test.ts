// Composition of catalog products with inventory stock: one BatchGetStock per
// page, whatever its size, and products inventory does not know have none.
import { create } from "@bufbuild/protobuf";
import { ProductSchema } from "@shop/gen/shop/catalog/v1/catalog_pb";
import {
  BatchGetStockResponseSchema,
  StockLevelSchema,
  type BatchGetStockRequest,
} from "@shop/gen/shop/inventory/v1/inventory_pb";
import { describe, expect, it } from "vitest";
import { withStock } from "../src/product-views.ts";

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
