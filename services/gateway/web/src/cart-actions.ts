// Adding to the cart from anywhere, with what it means said out loud
// (announce) so a screen reader user hears that the cart changed.
import type { ProductView } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { addToCart, cart, cartCount, quantityInCart } from "./cart.ts";
import { announce } from "./components/announcer.tsx";

/** Adds up to `quantity` of the product; returns the sentence that was announced. */
export function addViewToCart(view: ProductView, quantity = 1): string {
  const product = view.product;
  if (!product) return "";
  const added = addToCart(product, quantity, view.available);
  const count = cartCount(cart.get());
  const items = `${String(count)} ${count === 1 ? "item" : "items"}`;
  const text =
    added > 0
      ? `Added ${String(added)} × ${product.name} to your cart. Your cart has ${items}.`
      : quantityInCart(product.id) > 0
        ? `Your cart already has all ${String(quantityInCart(product.id))} of ${product.name} that can be ordered.`
        : `${product.name} is out of stock.`;
  announce(text);
  return text;
}
