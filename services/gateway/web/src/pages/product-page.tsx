// One product with its live stock, and a quantity to add to the cart (never
// more than can be ordered).
import { Code, ConnectError } from "@connectrpc/connect";
import { useState } from "preact/hooks";
import { storefront } from "../api.ts";
import { addViewToCart } from "../cart-actions.ts";
import { cart, MAX_QUANTITY } from "../cart.ts";
import { CallStatus } from "../components/call-status.tsx";
import { Link } from "../components/link.tsx";
import { ProductImage } from "../components/product-image.tsx";
import { StockLabel } from "../components/stock-label.tsx";
import { formatPrice } from "../money.ts";
import { usePageTitle } from "../page-title.ts";
import { useStore } from "../store.ts";
import { useCall } from "../use-call.ts";

export function ProductPage({ productId }: { productId: string }) {
  const [state, retry] = useCall(
    async (signal) => {
      try {
        return await storefront.getProduct({ productId }, { signal });
      } catch (err) {
        // A malformed id in the address is a product that does not exist.
        if (ConnectError.from(err).code === Code.InvalidArgument)
          throw new ConnectError("no such product", Code.NotFound);
        throw err;
      }
    },
    [productId],
  );
  const lines = useStore(cart);
  const [quantity, setQuantity] = useState(1);
  const [added, setAdded] = useState("");
  const view = state.status === "done" ? state.value.product : undefined;
  usePageTitle(view?.product?.name ?? (state.status === "failed" ? "Product not found" : undefined));
  if (!view?.product) {
    return (
      <section aria-labelledby="product-title">
        {state.status === "failed" && <h1 id="product-title">Product not available</h1>}
        <CallStatus
          state={state}
          retry={retry}
          what="the product"
          context={{ notFound: "This product is not in the shop (any more)." }}
          orElse={
            <p>
              <Link href="/">Browse all products</Link>
            </p>
          }
        />
      </section>
    );
  }
  const product = view.product;
  const inCart = lines.find((l) => l.productId === product.id)?.quantity ?? 0;
  const orderable = Math.max(0, Math.min(Number(view.available), MAX_QUANTITY) - inCart);
  return (
    <article class="product" aria-labelledby="product-title">
      <ProductImage product={product} size="large" />
      <div class="product-body">
        <h1 id="product-title">{product.name}</h1>
        <p class="price price--large">{formatPrice(product.price)}</p>
        <StockLabel available={view.available} />
        <p>{product.description}</p>
        <p class="muted">SKU {product.sku}</p>
        {inCart > 0 && (
          <p>
            {inCart} in <Link href="/cart">your cart</Link>.
          </p>
        )}
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            setAdded(addViewToCart(view, quantity));
            setQuantity(1);
          }}
        >
          <label for="quantity">Quantity</label>
          <input
            id="quantity"
            type="number"
            inputMode="numeric"
            min={1}
            max={Math.max(orderable, 1)}
            value={quantity}
            onInput={(e) => {
              setQuantity(Math.max(1, Math.min(Math.max(orderable, 1), Number(e.currentTarget.value) || 1)));
            }}
          />
          <button type="submit" disabled={orderable <= 0}>
            Add to cart
          </button>
        </form>
        <p class="confirmation">
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
