// The cart lives in the browser (localStorage), shared by every tab: lines
// with what the product looked like when added, refreshed from the server on
// the cart page.
//
// Placing an order does not empty the cart: the order is only a checkout in
// progress (also kept in localStorage) until its outcome is known. When it is
// CONFIRMED the ordered quantities leave the cart; when it is CANCELLED (a
// declined card, an item sold out, a timeout) the cart is as it was, so the
// shopper can try another card. Only the tab that holds the live connection
// settles a checkout (settleCheckout is called from there), so two tabs never
// both take the same order out of the cart.
import type { Product } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { OrderStatus, type Order } from "@shop/gen/shop/order/v1/order_pb";
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

/** An order placed from the cart whose outcome is not known yet. */
export interface PendingCheckout {
  orderId: string;
  userId: string;
  lines: { productId: string; quantity: number }[];
}

/** The contract's bounds: 1 to 100 units a line, at most 50 lines. */
export const MAX_QUANTITY = 100;
export const MAX_LINES = 50;

const KEY = "shop.cart";
const PENDING_KEY = "shop.checkout.pending";

const isLines = (v: unknown): v is CartLine[] =>
  Array.isArray(v) &&
  v.every(
    (l: Partial<CartLine> | null) =>
      typeof l?.productId === "string" && Number.isInteger(l.quantity) && typeof l.unitPriceMinor === "string",
  );

const isPending = (v: unknown): v is PendingCheckout | null =>
  v === null ||
  (typeof (v as PendingCheckout).orderId === "string" &&
    typeof (v as PendingCheckout).userId === "string" &&
    Array.isArray((v as PendingCheckout).lines));

export const cart = new Store<CartLine[]>(readStored(KEY, [], isLines));
export const pendingCheckout = new Store<PendingCheckout | null>(readStored(PENDING_KEY, null, isPending));

function save(lines: CartLine[]): void {
  localStorage.setItem(KEY, JSON.stringify(lines));
  cart.set(lines);
}

function savePending(pending: PendingCheckout | null): void {
  if (pending) localStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  else localStorage.removeItem(PENDING_KEY);
  pendingCheckout.set(pending);
}

const clamp = (n: number, max = MAX_QUANTITY) => Math.max(1, Math.min(max, MAX_QUANTITY, Math.floor(n)));

/** The quantity now in the cart of a product. */
export function quantityInCart(productId: string): number {
  return cart.get().find((l) => l.productId === productId)?.quantity ?? 0;
}

/**
 * Adds `quantity` (up to what `available` allows with what is in the cart
 * already); returns how many were added (0 if none could be).
 */
export function addToCart(product: Product, quantity = 1, available = BigInt(MAX_QUANTITY)): number {
  const lines = cart.get();
  const existing = lines.find((l) => l.productId === product.id);
  const limit = Number(available < BigInt(MAX_QUANTITY) ? available : BigInt(MAX_QUANTITY));
  const before = existing?.quantity ?? 0;
  const after = Math.min(limit, before + Math.max(0, Math.floor(quantity)));
  if (after <= before) return 0;
  if (existing) {
    save(lines.map((l) => (l === existing ? { ...l, quantity: after } : l)));
    return after - before;
  }
  if (lines.length >= MAX_LINES) return 0;
  save([
    ...lines,
    {
      productId: product.id,
      quantity: after,
      name: product.name,
      unitPriceMinor: String(product.price?.amountMinor ?? 0n),
      currency: product.price?.currencyCode ?? "EUR",
      imageUrl: product.imageUrl,
    },
  ]);
  return after;
}

export function setQuantity(productId: string, quantity: number): void {
  save(cart.get().map((l) => (l.productId === productId ? { ...l, quantity: clamp(quantity) } : l)));
}

/** Refreshes a line's name, price and picture from the catalog. */
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

/** The order just placed from the cart: the cart stays until its outcome. */
export function beginCheckout(order: Order): void {
  savePending({
    orderId: order.id,
    userId: order.userId,
    lines: order.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
  });
}

/**
 * Applies a checkout's outcome once it is known: a CONFIRMED order's
 * quantities leave the cart (what was added since stays), a CANCELLED one
 * leaves the cart alone. Anything else, or another order, changes nothing.
 */
export function settleCheckout(order: Order): void {
  // Fresh from storage: another tab may have settled it a moment ago.
  const pending = readStored(PENDING_KEY, null, isPending);
  if (pending?.orderId !== order.id) return;
  if (order.status === OrderStatus.CONFIRMED) {
    const ordered = new Map(pending.lines.map((l) => [l.productId, l.quantity]));
    save(
      cart
        .get()
        .map((l) => ({ ...l, quantity: l.quantity - (ordered.get(l.productId) ?? 0) }))
        .filter((l) => l.quantity > 0),
    );
  } else if (order.status !== OrderStatus.CANCELLED) {
    return;
  }
  savePending(null);
}

window.addEventListener("storage", (event) => {
  if (event.key === KEY) cart.set(readStored(KEY, [], isLines));
  if (event.key === PENDING_KEY) pendingCheckout.set(readStored(PENDING_KEY, null, isPending));
});
