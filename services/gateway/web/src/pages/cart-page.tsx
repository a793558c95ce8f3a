// The cart: quantities, removal, totals, and the way to checkout. Names,
// prices and stock are refreshed from the shop when the page opens.
import { useEffect, useState } from "preact/hooks";
import { storefront } from "../api.ts";
import { cart, cartTotals, MAX_QUANTITY, refreshLine, removeFromCart, setQuantity, type CartLine } from "../cart.ts";
import { Link } from "../components/link.tsx";
import { formatMoney } from "../money.ts";
import { useStore } from "../store.ts";

export function CartPage() {
  const lines = useStore(cart);
  const stock = useLiveStock(lines);
  if (lines.length === 0) {
    return (
      <section aria-labelledby="cart-title">
        <h1 id="cart-title">Your cart</h1>
        <p>Your cart is empty.</p>
        <Link href="/">Browse products</Link>
      </section>
    );
  }
  return (
    <section aria-labelledby="cart-title">
      <h1 id="cart-title">Your cart</h1>
      <ul class="cart-lines" aria-label="Cart">
        {lines.map((line) => (
          <CartRow key={line.productId} line={line} available={stock.get(line.productId)} />
        ))}
      </ul>
      <CartTotal lines={lines} />
      <Link class="button button--primary" href="/checkout">
        Checkout
      </Link>
    </section>
  );
}

function CartRow({ line, available }: { line: CartLine; available: bigint | undefined }) {
  const id = `qty-${line.productId}`;
  return (
    <li class="cart-line">
      <Link href={`/products/${line.productId}`}>{line.name}</Link>
      <span class="muted">{formatMoney(BigInt(line.unitPriceMinor), line.currency)} each</span>
      <span class="cart-qty">
        <label for={id}>Quantity of {line.name}</label>
        <input
          id={id}
          type="number"
          inputMode="numeric"
          min={1}
          max={MAX_QUANTITY}
          value={line.quantity}
          onChange={(e) => setQuantity(line.productId, Number(e.currentTarget.value) || 1)}
        />
      </span>
      <span>{formatMoney(BigInt(line.unitPriceMinor) * BigInt(line.quantity), line.currency)}</span>
      {available !== undefined && available < BigInt(line.quantity) && (
        <span class="stock stock--low">{available <= 0n ? "Out of stock" : `Only ${available} left`}</span>
      )}
      <button
        type="button"
        class="link-button"
        onClick={() => removeFromCart(line.productId)}
        aria-label={`Remove ${line.name} from cart`}
      >
        Remove
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

/** Current stock per product in the cart (and fresh names and prices). */
function useLiveStock(lines: readonly CartLine[]): Map<string, bigint> {
  const [stock, setStock] = useState(new Map<string, bigint>());
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
        const line = lines.find((l) => l.productId === view.product!.id);
        if (
          line &&
          (line.name !== view.product.name || line.unitPriceMinor !== String(view.product.price?.amountMinor ?? 0n))
        )
          refreshLine(view.product);
      }
      setStock(next);
    });
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ids]);
  return stock;
}
