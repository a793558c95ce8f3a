// Product listings (browse and search): the grid, how many products there
// are, the sort order, and numbered pages. Sort and page live in the URL
// (?sort=price-low&page=2), so every page of a listing can be linked,
// reloaded and reached with Back.
import { ProductSort } from "@shop/gen/shop/catalog/v1/catalog_pb";
import type { ProductView } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { navigate } from "../router.ts";
import { Link } from "./link.tsx";
import { ProductCard } from "./product-card.tsx";

export function ProductGrid({ products, label }: { products: readonly ProductView[]; label: string }) {
  if (products.length === 0) return <p>No products here.</p>;
  return (
    <ul class="grid" aria-label={label}>
      {products.map((view) => (
        <li key={view.product?.id}>
          <ProductCard view={view} />
        </li>
      ))}
    </ul>
  );
}

/** The sorts a listing offers, by URL value. */
const SORTS: readonly { value: string; sort: ProductSort; label: string }[] = [
  { value: "name", sort: ProductSort.NAME, label: "Name, A to Z" },
  { value: "price-low", sort: ProductSort.PRICE_LOW_TO_HIGH, label: "Price, low to high" },
  { value: "price-high", sort: ProductSort.PRICE_HIGH_TO_LOW, label: "Price, high to low" },
  { value: "newest", sort: ProductSort.NEWEST, label: "Newest first" },
];

/** The ?sort= value as the contract's ProductSort (UNSPECIFIED: the listing's own order). */
export function sortOf(value: string | null): ProductSort {
  return SORTS.find((s) => s.value === value)?.sort ?? ProductSort.UNSPECIFIED;
}

/** The ?page= value: 1 and up. */
export function pageOf(value: string | null): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/** `basePath` (which may carry a query) with other query parameters set or removed. */
export function withParams(basePath: string, params: Record<string, string | undefined>): string {
  const [path, query = ""] = basePath.split("?");
  const search = new URLSearchParams(query);
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === "") search.delete(key);
    else search.set(key, value);
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

/** "Showing 13–24 of 34 products" and the sort order, above a listing. */
export function ListingControls({
  basePath,
  sort,
  defaultLabel,
  page,
  pageSize,
  shown,
  total,
}: {
  basePath: string;
  sort: string | null;
  /** The listing's own order when no sort is chosen ("Name, A to Z", "Best match"). */
  defaultLabel?: string;
  page: number;
  pageSize: number;
  shown: number;
  total: number;
}) {
  const first = (page - 1) * pageSize + 1;
  const options = defaultLabel ? [{ value: "", label: defaultLabel }, ...SORTS] : SORTS;
  const selected = options.some((o) => o.value === sort) ? (sort ?? "") : (options[0]?.value ?? "");
  return (
    <div class="listing-controls">
      <p class="muted" data-testid="listing-count">
        {total === 0
          ? "No products"
          : shown === total
            ? `${String(total)} ${total === 1 ? "product" : "products"}`
            : `Showing ${String(first)}–${String(first + shown - 1)} of ${String(total)} products`}
      </p>
      <div class="sort">
        <label for="sort">Sort by</label>
        <select
          id="sort"
          value={selected}
          onChange={(e) => {
            navigate(withParams(basePath, { sort: e.currentTarget.value, page: undefined }));
          }}
        >
          {options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      </div>
    </div>
  );
}

/** Which page numbers to offer: the first, the last, and two either side of the current one. */
function pageNumbers(page: number, pages: number): (number | "gap")[] {
  const shown = new Set([1, pages, page - 2, page - 1, page, page + 1, page + 2].filter((n) => n >= 1 && n <= pages));
  const sorted = [...shown].sort((a, b) => a - b);
  const out: (number | "gap")[] = [];
  for (const n of sorted) {
    const last = out.at(-1);
    if (typeof last === "number" && n - last > 1) out.push("gap");
    out.push(n);
  }
  return out;
}

/** Previous, the page numbers and Next, as links (so they work with the keyboard, new tabs and Back). */
export function PageNumbers({ basePath, page, pages }: { basePath: string; page: number; pages: number }) {
  if (pages <= 1) return null;
  const href = (n: number) => withParams(basePath, { page: n === 1 ? undefined : String(n) });
  return (
    <nav class="pager" aria-label="Pages">
      {page > 1 && (
        <Link href={href(page - 1)} rel="prev">
          Previous<span class="visually-hidden"> page</span>
        </Link>
      )}
      <ol>
        {pageNumbers(page, pages).map((n, i) =>
          n === "gap" ? (
            <li key={`gap-${String(i)}`} aria-hidden="true">
              …
            </li>
          ) : (
            <li key={n}>
              <Link href={href(n)} aria-current={n === page ? "page" : undefined} aria-label={`Page ${String(n)}`}>
                {n}
              </Link>
            </li>
          ),
        )}
      </ol>
      {page < pages && (
        <Link href={href(page + 1)} rel="next">
          Next<span class="visually-hidden"> page</span>
        </Link>
      )}
    </nav>
  );
}

/** Page tokens seen on the way to the current page, per listing, for "Previous page". */
const trails = new Map<string, string[]>();

/**
 * Previous/next through a token-paged listing (order history) whose current
 * token is the `page` query parameter of `basePath`.
 */
export function TokenPager({
  basePath,
  pageToken,
  nextPageToken,
}: {
  basePath: string;
  pageToken: string;
  nextPageToken: string;
}) {
  const trail = trails.get(basePath) ?? [];
  if (!pageToken && !nextPageToken) return null;
  const withPage = (token: string) => withParams(basePath, { page: token || undefined });
  return (
    <nav class="pager" aria-label="Pages">
      {pageToken && (
        <button
          type="button"
          onClick={() => {
            trails.set(basePath, trail.slice(0, -1));
            navigate(withPage(trail.at(-1) ?? ""));
          }}
        >
          {trail.length > 0 ? "Previous page" : "First page"}
        </button>
      )}
      {nextPageToken && (
        <button
          type="button"
          onClick={() => {
            trails.set(basePath, [...trail, pageToken]);
            navigate(withPage(nextPageToken));
          }}
        >
          Next page
        </button>
      )}
    </nav>
  );
}
