// The cart lives in the browser (localStorage), shared by every tab: lines
// with what the product looked like when added, refreshed from the server on
// the cart page.
import type { Product } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { readStored, Store } from "./store.ts";

export interface CartLine {
  productId: string;
  quantity: number;
  name: string;
  /** Minor units as a decimal string (JSON has no bigint). */
  unitPriceMinor: string;
  currency: string;
  imageUrl: string;
}

/** The contract's bounds: 1 to 100 units a line, at most 50 lines. */
export const MAX_QUANTITY = 100;
export const MAX_LINES = 50;

const KEY = "shop.cart";

const isLines = (v: unknown): v is CartLine[] =>
  Array.isArray(v) &&
  v.every(
    (l) => typeof l?.productId === "string" && Number.isInteger(l?.quantity) && typeof l?.unitPriceMinor === "string",
  );

export const cart = new Store<CartLine[]>(readStored(KEY, [], isLines));

function save(lines: CartLine[]): void {
  localStorage.setItem(KEY, JSON.stringify(lines));
  cart.set(lines);
}

const clamp = (n: number) => Math.max(1, Math.min(MAX_QUANTITY, Math.floor(n)));

export function addToCart(product: Product, quantity = 1): void {
  const lines = cart.get();
  const existing = lines.find((l) => l.productId === product.id);
  if (existing) {
    save(lines.map((l) => (l === existing ? { ...l, quantity: clamp(l.quantity + quantity) } : l)));
    return;
  }
  if (lines.length >= MAX_LINES) return;
  save([
    ...lines,
    {
      productId: product.id,
      quantity: clamp(quantity),
      name: product.name,
      unitPriceMinor: String(product.price?.amountMinor ?? 0n),
      currency: product.price?.currencyCode ?? "EUR",
      imageUrl: product.imageUrl,
    },
  ]);
}

export function setQuantity(productId: string, quantity: number): void {
  save(cart.get().map((l) => (l.productId === productId ? { ...l, quantity: clamp(quantity) } : l)));
}

/** Refreshes a line's name and price from the catalog. */
export function refreshLine(product: Product): void {
  save(
    cart.get().map((l) =>
      l.productId === product.id
        ? {
            ...l,
            name: product.name,
            unitPriceMinor: String(product.price?.amountMinor ?? 0n),
            currency: product.price?.currencyCode ?? l.currency,
            imageUrl: product.imageUrl,
          }
        : l,
    ),
  );
}

export function removeFromCart(productId: string): void {
  save(cart.get().filter((l) => l.productId !== productId));
}

export function clearCart(): void {
  save([]);
}

export function cartCount(lines: readonly CartLine[]): number {
  return lines.reduce((n, l) => n + l.quantity, 0);
}

/** Sum of the lines per currency (a cart normally holds one). */
export function cartTotals(lines: readonly CartLine[]): Map<string, bigint> {
  const totals = new Map<string, bigint>();
  for (const l of lines)
    totals.set(l.currency, (totals.get(l.currency) ?? 0n) + BigInt(l.unitPriceMinor) * BigInt(l.quantity));
  return totals;
}

window.addEventListener("storage", (event) => {
  if (event.key === KEY) cart.set(readStored(KEY, [], isLines));
});
