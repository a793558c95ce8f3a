import type { Product } from "@shop/gen/shop/catalog/v1/catalog_pb";

const FALLBACK = "/images/product.svg";

/** The product's picture; decorative (the name is always next to it), with a generic one if it fails to load. */
export function ProductImage({ product, large = false }: { product: Product; large?: boolean }) {
  return (
    <img
      class={large ? "product-image product-image--large" : "product-image"}
      src={product.imageUrl || FALLBACK}
      alt=""
      width={large ? 320 : 160}
      height={large ? 240 : 120}
      loading="lazy"
      onError={(e) => {
        if (!e.currentTarget.src.endsWith(FALLBACK)) e.currentTarget.src = FALLBACK;
      }}
    />
  );
}
