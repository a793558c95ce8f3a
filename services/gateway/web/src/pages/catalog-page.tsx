// Browse: categories, then a page of products (with live stock) at a time,
// sorted as the shopper chose, with numbered pages.
import { storefront } from "../api.ts";
import { CallStatus } from "../components/call-status.tsx";
import { Link } from "../components/link.tsx";
import { ListingControls, PageNumbers, ProductGrid, sortOf, withParams } from "../components/product-grid.tsx";
import { usePageTitle } from "../page-title.ts";
import { useCall } from "../use-call.ts";

export const PAGE_SIZE = 12;

export function CatalogPage({ categoryId, sort, page }: { categoryId: string; sort: string | null; page: number }) {
  const [categories] = useCall((signal) => storefront.listCategories({}, { signal }), []);
  const [listing, retry] = useCall(
    (signal) =>
      storefront.listProducts(
        { categoryId, pageSize: PAGE_SIZE, skip: (page - 1) * PAGE_SIZE, sort: sortOf(sort) },
        { signal },
      ),
    [categoryId, sort, page],
  );
  const category =
    categories.status === "done" ? categories.value.categories.find((c) => c.id === categoryId) : undefined;
  const title = category?.name ?? (categoryId ? "Products" : "All products");
  usePageTitle(page > 1 ? `${title}, page ${String(page)}` : title);
  const basePath = withParams("/", { category: categoryId || undefined, sort: sort ?? undefined });
  return (
    <section aria-labelledby="catalog-title">
      <nav class="categories" aria-label="Categories">
        <ul>
          <li>
            <Link href="/" aria-current={!categoryId ? "page" : undefined}>
              All
            </Link>
          </li>
          {categories.status === "done" &&
            categories.value.categories.map((c) => (
              <li key={c.id}>
                <Link
                  href={`/?category=${encodeURIComponent(c.id)}`}
                  aria-current={c.id === categoryId ? "page" : undefined}
                >
                  {c.name}
                </Link>
              </li>
            ))}
        </ul>
      </nav>
      <h1 id="catalog-title">{title}</h1>
      {category?.description && <p class="lead">{category.description}</p>}
      <CallStatus state={listing} retry={retry} what="products" />
      {listing.status === "done" && (
        <>
          <ListingControls
            basePath={basePath}
            sort={sort}
            page={page}
            pageSize={PAGE_SIZE}
            shown={listing.value.products.length}
            total={listing.value.totalSize}
          />
          <ProductGrid products={listing.value.products} label={title} />
          <PageNumbers basePath={basePath} page={page} pages={Math.ceil(listing.value.totalSize / PAGE_SIZE)} />
        </>
      )}
    </section>
  );
}
