// The cart: pictures, quantities (never more than is in stock), removal,
// totals, and the way to checkout, which is offered only for what can be
// ordered now. Names, prices and stock are refreshed from the shop when the
// page opens.
import { useEffect, useState } from "preact/hooks";
import { storefront } from "../api.ts";
import {
  cart,
  cartCount,
  cartTotals,
  MAX_QUANTITY,
  pendingCheckout,
  refreshLine,
  removeFromCart,
  setQuantity,
  type CartLine,
} from "../cart.ts";
import { announce } from "../components/announcer.tsx";
import { Link } from "../components/link.tsx";
import { ProductImage } from "../components/product-image.tsx";
import { orderNumber } from "../format.ts";
import { formatMoney } from "../money.ts";
import { usePageTitle } from "../page-title.ts";
import { session } from "../session.ts";
import { useStore } from "../store.ts";

export function CartPage() {
  const lines = useStore(cart);
  const pending = useStore(pendingCheckout);
  const signedIn = useStore(session);
  const [stock, stockLoaded] = useLiveStock(lines);
  usePageTitle("Your cart");
  if (lines.length === 0) {
    return (
      <section aria-labelledby="cart-title">
        <h1 id="cart-title">Your cart</h1>
        <p>Your cart is empty.</p>
        <Link href="/">Browse products</Link>
      </section>
    );
  }
  const short = lines.filter((l) => {
    const available = stock.get(l.productId);
    return available !== undefined && available < BigInt(l.quantity);
  });
  const mine = pending && pending.userId === signedIn?.user.id ? pending : null;
  return (
    <section aria-labelledby="cart-title">
      <h1 id="cart-title">Your cart</h1>
      {mine && (
        <p class="notice">
          Order {orderNumber(mine.orderId)} is being placed with these items.{" "}
          <Link href={`/orders/${mine.orderId}/confirmation`}>See how it is going</Link>
        </p>
      )}
      <ul class="cart-lines" aria-label="Items in your cart">
        {lines.map((line) => (
          <CartRow key={line.productId} line={line} available={stock.get(line.productId)} />
        ))}
      </ul>
      <CartTotal lines={lines} />
      {short.length > 0 && (
        <p class="stock-warning" id="checkout-blocked">
          {short
            .map((l) => {
              const available = stock.get(l.productId) ?? 0n;
              return available <= 0n
                ? `${l.name} is out of stock: remove it to check out.`
                : `Only ${available.toString()} of ${l.name} ${available === 1n ? "is" : "are"} left: lower the quantity to check out.`;
            })
            .join(" ")}
        </p>
      )}
      {short.length > 0 || !stockLoaded ? (
        <button
          type="button"
          class="button--primary"
          disabled
          aria-describedby={short.length ? "checkout-blocked" : undefined}
        >
          Checkout
        </button>
      ) : (
        <Link class="button button--primary" href="/checkout">
          Checkout
        </Link>
      )}
    </section>
  );
}

function CartRow({ line, available }: { line: CartLine; available: bigint | undefined }) {
  const id = `qty-${line.productId}`;
  const max = available === undefined ? MAX_QUANTITY : Math.max(1, Math.min(Number(available), MAX_QUANTITY));
  return (
    <li class="cart-line">
      <ProductImage imageUrl={line.imageUrl} size="thumbnail" />
      <span class="cart-line-name">
        <Link href={`/products/${line.productId}`}>{line.name}</Link>
        <span class="muted">{formatMoney(BigInt(line.unitPriceMinor), line.currency)} each</span>
        {available !== undefined && available < BigInt(line.quantity) && (
          <span class="stock stock--low">{available <= 0n ? "Out of stock" : `Only ${available.toString()} left`}</span>
        )}
      </span>
      <span class="cart-qty">
        <label for={id}>
          Quantity<span class="visually-hidden"> of {line.name}</span>
        </label>
        <input
          id={id}
          type="number"
          inputMode="numeric"
          min={1}
          max={max}
          value={line.quantity}
          onChange={(e) => {
            const quantity = Math.max(1, Math.min(MAX_QUANTITY, Number(e.currentTarget.value) || 1));
            setQuantity(line.productId, quantity);
            const count = cartCount(cart.get());
            announce(
              `${line.name}: quantity ${String(quantity)}. Your cart has ${String(count)} ${count === 1 ? "item" : "items"}.`,
            );
          }}
        />
      </span>
      <span class="cart-line-total">
        {formatMoney(BigInt(line.unitPriceMinor) * BigInt(line.quantity), line.currency)}
      </span>
      <button
        type="button"
        class="link-button"
        onClick={() => {
          removeFromCart(line.productId);
          const count = cartCount(cart.get());
          announce(
            `Removed ${line.name} from your cart. Your cart has ${String(count)} ${count === 1 ? "item" : "items"}.`,
          );
        }}
      >
        Remove<span class="visually-hidden"> {line.name}</span>
      </button>
    </li>
  );
}

export function CartTotal({ lines }: { lines: readonly CartLine[] }) {
  return (
    <p class="total">
      Total:{" "}
      <strong>{[...cartTotals(lines)].map(([currency, amount]) => formatMoney(amount, currency)).join(" + ")}</strong>
    </p>
  );
}

/**
 * Current stock per product in the cart (and fresh names and prices), and
 * whether the first look-up is done. A product the shop cannot tell us about
 * has no entry: the server has the last word when the order is placed.
 */
export function useLiveStock(lines: readonly CartLine[]): [Map<string, bigint>, boolean] {
  const [stock, setStock] = useState(new Map<string, bigint>());
  const [loaded, setLoaded] = useState(false);
  const ids = lines.map((l) => l.productId).join(",");
  useEffect(() => {
    const controller = new AbortController();
    void Promise.all(
      lines.map((l) =>
        storefront.getProduct({ productId: l.productId }, { signal: controller.signal }).then(
          (res) => res.product,
          () => undefined,
        ),
      ),
    ).then((views) => {
      if (controller.signal.aborted) return;
      const next = new Map<string, bigint>();
      for (const view of views) {
        if (!view?.product) continue;
        next.set(view.product.id, view.available);
        const product = view.product;
        const line = lines.find((l) => l.productId === product.id);
        if (
          line &&
          (line.name !== view.product.name ||
            line.unitPriceMinor !== String(view.product.price?.amountMinor ?? 0n) ||
            line.imageUrl !== view.product.imageUrl)
        )
          refreshLine(view.product);
      }
      setStock(next);
      setLoaded(true);
    });
    return () => {
      controller.abort();
    };
    // Keyed on the product ids: quantity changes need no new look-up.
  }, [ids]);
  return [stock, loaded];
}
