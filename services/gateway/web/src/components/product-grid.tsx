import type { ProductView } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { navigate } from "../router.ts";
import { ProductCard } from "./product-card.tsx";

export function ProductGrid({ products, label }: { products: readonly ProductView[]; label: string }) {
  if (products.length === 0) return <p>No products here.</p>;
  return (
    <ul class="grid" aria-label={label}>
      {products.map((view) => (
        <li key={view.product!.id}>
          <ProductCard view={view} />
        </li>
      ))}
    </ul>
  );
}

/** Page tokens seen on the way to the current page, per listing, for "Previous page". */
const trails = new Map<string, string[]>();

/**
 * Previous/next through a token-paged listing whose current token is the
 * `page` query parameter of `basePath` (which carries the other parameters).
 */
export function Pager({
  basePath,
  pageToken,
  nextPageToken,
}: {
  basePath: string;
  pageToken: string;
  nextPageToken: string;
}) {
  const trail = trails.get(basePath) ?? [];
  const withPage = (token: string) => {
    if (!token) return basePath;
    return `${basePath}${basePath.includes("?") ? "&" : "?"}page=${encodeURIComponent(token)}`;
  };
  const next = () => {
    trails.set(basePath, [...trail, pageToken]);
    navigate(withPage(nextPageToken));
  };
  const previous = () => {
    const earlier = trail.slice(0, -1);
    const token = trail.at(-1) ?? "";
    trails.set(basePath, earlier);
    navigate(withPage(token));
  };
  if (!pageToken && !nextPageToken) return null;
  return (
    <nav class="pager" aria-label="Pages">
      {pageToken && trail.length > 0 && (
        <button type="button" onClick={previous}>
          Previous page
        </button>
      )}
      {pageToken && trail.length === 0 && (
        <button type="button" onClick={() => navigate(basePath)}>
          First page
        </button>
      )}
      {nextPageToken && (
        <button type="button" onClick={next}>
          Next page
        </button>
      )}
    </nav>
  );
}
