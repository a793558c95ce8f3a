// One product with its live stock, and a quantity to add to the cart.
import { useState } from "preact/hooks";
import { storefront } from "../api.ts";
import { addToCart, MAX_QUANTITY } from "../cart.ts";
import { CallStatus } from "../components/call-status.tsx";
import { Link } from "../components/link.tsx";
import { ProductImage } from "../components/product-image.tsx";
import { StockLabel } from "../components/stock-label.tsx";
import { formatPrice } from "../money.ts";
import { useCall } from "../use-call.ts";

export function ProductPage({ productId }: { productId: string }) {
  const [state, retry] = useCall((signal) => storefront.getProduct({ productId }, { signal }), [productId]);
  const [quantity, setQuantity] = useState(1);
  const [added, setAdded] = useState("");
  if (state.status !== "done") return <CallStatus state={state} retry={retry} what="the product" />;
  const view = state.value.product!;
  const product = view.product!;
  const max = Number(view.available < BigInt(MAX_QUANTITY) ? view.available : BigInt(MAX_QUANTITY));
  return (
    <article class="product" aria-labelledby="product-title">
      <ProductImage product={product} large />
      <div class="product-body">
        <h1 id="product-title">{product.name}</h1>
        <p class="price price--large">{formatPrice(product.price)}</p>
        <StockLabel available={view.available} />
        <p>{product.description}</p>
        <p class="muted">SKU {product.sku}</p>
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            addToCart(product, quantity);
            setAdded(`Added ${quantity} × ${product.name} to your cart.`);
          }}
        >
          <label for="quantity">Quantity</label>
          <input
            id="quantity"
            type="number"
            inputMode="numeric"
            min={1}
            max={Math.max(max, 1)}
            value={quantity}
            onInput={(e) => setQuantity(Math.max(1, Number(e.currentTarget.value) || 1))}
          />
          <button type="submit" disabled={view.available <= 0n}>
            Add to cart
          </button>
        </form>
        <p role="status" class="confirmation">
          {added && (
            <>
              {added} <Link href="/cart">View cart</Link>
            </>
          )}
        </p>
      </div>
    </article>
  );
}
