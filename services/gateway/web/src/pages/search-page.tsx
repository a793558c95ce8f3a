// Full-text search results: best match first unless the shopper sorts them,
// with numbered pages.
import { storefront } from "../api.ts";
import { CallStatus } from "../components/call-status.tsx";
import { ListingControls, PageNumbers, ProductGrid, sortOf, withParams } from "../components/product-grid.tsx";
import { usePageTitle } from "../page-title.ts";
import { useCall } from "../use-call.ts";
import { PAGE_SIZE } from "./catalog-page.tsx";

export function SearchPage({ query, sort, page }: { query: string; sort: string | null; page: number }) {
  const words = query.trim();
  const [results, retry] = useCall(
    async (signal) =>
      words
        ? storefront.searchProducts(
            { query: words, pageSize: PAGE_SIZE, skip: (page - 1) * PAGE_SIZE, sort: sortOf(sort) },
            { signal },
          )
        : undefined,
    [words, sort, page],
  );
  const title = words ? `Results for “${words}”` : "Search";
  usePageTitle(title);
  const basePath = withParams("/search", { q: words, sort: sort ?? undefined });
  return (
    <section aria-labelledby="search-title">
      <h1 id="search-title">{title}</h1>
      {!words && <p>Type what you are looking for in the search box.</p>}
      <CallStatus state={results} retry={retry} what="results" />
      {results.status === "done" && results.value && (
        <>
          <ListingControls
            basePath={basePath}
            sort={sort}
            defaultLabel="Best match"
            page={page}
            pageSize={PAGE_SIZE}
            shown={results.value.products.length}
            total={results.value.totalSize}
          />
          <ProductGrid products={results.value.products} label={title} />
          <PageNumbers basePath={basePath} page={page} pages={Math.ceil(results.value.totalSize / PAGE_SIZE)} />
        </>
      )}
    </section>
  );
}
