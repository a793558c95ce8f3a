// Full-text search results, best match first.
import { storefront } from "../api.ts";
import { CallStatus } from "../components/call-status.tsx";
import { Pager, ProductGrid } from "../components/product-grid.tsx";
import { useCall } from "../use-call.ts";

const PAGE_SIZE = 12;

export function SearchPage({ query, pageToken }: { query: string; pageToken: string }) {
  const [page, retry] = useCall(
    async (signal) =>
      query.trim()
        ? storefront.searchProducts({ query: query.trim(), pageSize: PAGE_SIZE, pageToken }, { signal })
        : undefined,
    [query, pageToken],
  );
  return (
    <section aria-labelledby="search-title">
      <h1 id="search-title">{query.trim() ? `Results for “${query.trim()}”` : "Search"}</h1>
      {!query.trim() && <p>Type what you are looking for in the search box.</p>}
      <CallStatus state={page} retry={retry} what="results" />
      {page.status === "done" && page.value && (
        <>
          <ProductGrid products={page.value.products} label={`Results for ${query}`} />
          <Pager
            basePath={`/search?q=${encodeURIComponent(query)}`}
            pageToken={pageToken}
            nextPageToken={page.value.nextPageToken}
          />
        </>
      )}
    </section>
  );
}
