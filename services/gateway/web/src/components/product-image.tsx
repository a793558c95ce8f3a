import type { Product } from "@shop/gen/shop/catalog/v1/catalog_pb";

const FALLBACK = "/images/product.svg";

// The pictures are small SVGs (about 1 kB): loaded at once, no lazy loading.
const SIZES = {
  card: { width: 320, height: 240 },
  large: { width: 640, height: 480 },
  thumbnail: { width: 96, height: 72 },
} as const;

/**
 * A product's picture; decorative (its name is always next to it), with a
 * generic one if it fails to load. `imageUrl` alone is enough (cart and
 * order lines keep only that).
 */
export function ProductImage({
  product,
  imageUrl = product?.imageUrl,
  size = "card",
}: {
  product?: Pick<Product, "imageUrl">;
  imageUrl?: string;
  size?: keyof typeof SIZES;
}) {
  const { width, height } = SIZES[size];
  return (
    <img
      class={`product-image product-image--${size}`}
      src={imageUrl || FALLBACK}
      alt=""
      width={width}
      height={height}
      onError={(e) => {
        if (!e.currentTarget.src.endsWith(FALLBACK)) e.currentTarget.src = FALLBACK;
      }}
    />
  );
}
