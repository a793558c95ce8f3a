// A product as the shop shows it: the catalog's product plus live stock, with
// one BatchGetStock call per page however many products it holds.
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { Product } from "@shop/gen/shop/catalog/v1/catalog_pb";
import type { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { ProductViewSchema, type ProductView } from "@shop/gen/shop/storefront/v1/storefront_pb";

type StockReader = Pick<Client<typeof InventoryService>, "batchGetStock">;

/** Units available per product id, in one BatchGetStock call. */
export async function stockLevels(
  inventory: StockReader,
  productIds: readonly string[],
  signal: AbortSignal,
): Promise<Map<string, bigint>> {
  if (productIds.length === 0) return new Map();
  const { stock } = await inventory.batchGetStock({ productIds: [...new Set(productIds)] }, { signal });
  return new Map(stock.map((level) => [level.productId, level.available]));
}

/** The products with their stock; a product inventory has never heard of has nothing to sell. */
export function asViews(products: readonly Product[], available: ReadonlyMap<string, bigint>): ProductView[] {
  return products.map((product) => create(ProductViewSchema, { product, available: available.get(product.id) ?? 0n }));
}

export async function withStock(
  inventory: StockReader,
  products: readonly Product[],
  signal: AbortSignal,
): Promise<ProductView[]> {
  return asViews(
    products,
    await stockLevels(
      inventory,
      products.map((p) => p.id),
      signal,
    ),
  );
}
