// Prices an order from the catalog's products: the client sends product ids
// and quantities only, never prices.
import { Code, ConnectError } from "@connectrpc/connect";

const INT64_MAX = 2n ** 63n - 1n;

export interface RequestedLine {
  productId: string;
  quantity: number;
}

/** The catalog's view of a product, as much as pricing needs. */
export interface CatalogProduct {
  id: string;
  name: string;
  imageUrl: string;
  price?: { currencyCode: string; amountMinor: bigint };
}

export interface PricedLine {
  productId: string;
  productName: string;
  quantity: number;
  unitPriceMinor: bigint;
  imageUrl: string;
}

export interface PricedOrder {
  lines: PricedLine[];
  currency: string;
  totalMinor: bigint;
}

/**
 * Lines in the order requested, with the catalog's names and prices. NotFound
 * naming every unknown product; InvalidArgument if the products are priced in
 * more than one currency (an order is charged in one) or if the total does not
 * fit an int64.
 */
export function priceOrder(requested: readonly RequestedLine[], products: readonly CatalogProduct[]): PricedOrder {
  const byId = new Map(products.map((p) => [p.id.toLowerCase(), p]));
  const matched: { line: RequestedLine; product: CatalogProduct; price: NonNullable<CatalogProduct["price"]> }[] = [];
  const unknown: string[] = [];
  for (const line of requested) {
    const product = byId.get(line.productId.toLowerCase());
    if (product?.price) matched.push({ line, product, price: product.price });
    else unknown.push(line.productId);
  }
  if (unknown.length > 0) {
    throw new ConnectError(
      `${unknown.length === 1 ? "product" : "products"} not found: ${unknown.join(", ")}`,
      Code.NotFound,
    );
  }
  const lines = matched.map(({ line, product, price }) => ({
    productId: product.id,
    productName: product.name,
    quantity: line.quantity,
    unitPriceMinor: price.amountMinor,
    imageUrl: product.imageUrl,
  }));
  const currencies = [...new Set(matched.map((m) => m.price.currencyCode))];
  if (currencies.length > 1) {
    throw new ConnectError(
      `lines: the products are priced in different currencies (${currencies.sort().join(", ")}); place one order per currency`,
      Code.InvalidArgument,
    );
  }
  const totalMinor = lines.reduce((sum, l) => sum + l.unitPriceMinor * BigInt(l.quantity), 0n);
  // The contract bounds prices so this cannot happen with today's products;
  // a price stored before that bound could still make the total overflow
  // the int64 it is stored and sent as.
  if (totalMinor > INT64_MAX) {
    throw new ConnectError(
      "lines: the order total is larger than the shop can charge in one order",
      Code.InvalidArgument,
    );
  }
  return { lines, currency: currencies[0], totalMinor };
}
