// A product as the shop shows it: the catalog's product plus live stock, with
// one BatchGetStock call per page however many products it holds.
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { Product } from "@shop/gen/shop/catalog/v1/catalog_pb";
import type { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { ProductViewSchema, type ProductView } from "@shop/gen/shop/storefront/v1/storefront_pb";

export async function withStock(
  inventory: Pick<Client<typeof InventoryService>, "batchGetStock">,
  products: readonly Product[],
  signal: AbortSignal,
): Promise<ProductView[]> {
  if (products.length === 0) return [];
  const productIds = [...new Set(products.map((p) => p.id))];
  const { stock } = await inventory.batchGetStock({ productIds }, { signal });
  const available = new Map(stock.map((level) => [level.productId, level.available]));
  // A product inventory has never heard of has nothing to sell.
  return products.map((product) => create(ProductViewSchema, { product, available: available.get(product.id) ?? 0n }));
}
