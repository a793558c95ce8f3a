import type { ProductView } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { addViewToCart } from "../cart-actions.ts";
import { formatPrice } from "../money.ts";
import { Link } from "./link.tsx";
import { ProductImage } from "./product-image.tsx";
import { StockLabel } from "./stock-label.tsx";

export function ProductCard({ view }: { view: ProductView }) {
  const product = view.product;
  if (!product) return null;
  const headingId = `product-${product.id}`;
  return (
    <article class="card" aria-labelledby={headingId}>
      <ProductImage product={product} />
      <h2 id={headingId} class="card-title">
        <Link href={`/products/${product.id}`}>{product.name}</Link>
      </h2>
      <p class="price">{formatPrice(product.price)}</p>
      <StockLabel available={view.available} />
      <button
        type="button"
        disabled={view.available <= 0n}
        onClick={() => {
          addViewToCart(view);
        }}
      >
        Add to cart<span class="visually-hidden">: {product.name}</span>
      </button>
    </article>
  );
}
