import type { ProductView } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { addToCart } from "../cart.ts";
import { formatPrice } from "../money.ts";
import { Link } from "./link.tsx";
import { ProductImage } from "./product-image.tsx";
import { StockLabel } from "./stock-label.tsx";

export function ProductCard({ view }: { view: ProductView }) {
  const product = view.product!;
  const headingId = `product-${product.id}`;
  return (
    <article class="card" aria-labelledby={headingId}>
      <ProductImage product={product} />
      <h3 id={headingId}>
        <Link href={`/products/${product.id}`}>{product.name}</Link>
      </h3>
      <p class="price">{formatPrice(product.price)}</p>
      <StockLabel available={view.available} />
      <button
        type="button"
        disabled={view.available <= 0n}
        onClick={() => addToCart(product)}
        aria-label={`Add ${product.name} to cart`}
      >
        Add to cart
      </button>
    </article>
  );
}
