// Browse: categories, then a page of products (with live stock) at a time.
import { storefront } from "../api.ts";
import { CallStatus } from "../components/call-status.tsx";
import { Link } from "../components/link.tsx";
import { Pager, ProductGrid } from "../components/product-grid.tsx";
import { useCall } from "../use-call.ts";

const PAGE_SIZE = 12;

export function CatalogPage({ categoryId, pageToken }: { categoryId: string; pageToken: string }) {
  const [categories] = useCall((signal) => storefront.listCategories({}, { signal }), []);
  const [page, retry] = useCall(
    (signal) => storefront.listProducts({ categoryId, pageSize: PAGE_SIZE, pageToken }, { signal }),
    [categoryId, pageToken],
  );
  const category =
    categories.status === "done" ? categories.value.categories.find((c) => c.id === categoryId) : undefined;
  const title = category?.name ?? (categoryId ? categoryId : "All products");
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
      <CallStatus state={page} retry={retry} what="products" />
      {page.status === "done" && (
        <>
          <ProductGrid products={page.value.products} label={title} />
          <Pager
            basePath={categoryId ? `/?category=${encodeURIComponent(categoryId)}` : "/"}
            pageToken={pageToken}
            nextPageToken={page.value.nextPageToken}
          />
        </>
      )}
    </section>
  );
}
