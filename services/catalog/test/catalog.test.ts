// The catalog as a real server on a real port with its own database: seeded
// browsing, paging, search, and admin edits that publish their events.
import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { readFileSync } from "node:fs";
import postgres from "postgres";
import { CatalogService, ProductSort, type Product } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { PriceChangedSchema, ProductCreatedSchema } from "@shop/gen/shop/catalog/v1/events_pb";
import { EventBus } from "@shop/runtime/events/index";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectCode } from "../../../tests/support/expect-code.ts";
import { seedCategories, seedImageUrl, seedProducts, type SeedProduct } from "@shop/runtime/demo/catalogue";
import { bearer, eventually, startSystem, type TestSystem } from "../../../tests/support/system.ts";

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem(["identity", "catalog"]);
});
afterAll(() => system?.stop());

const catalog = () => system.client(CatalogService);

describe("browsing the seeded catalogue", () => {
  it("lists every category, ordered by name", async () => {
    const { categories } = await catalog().listCategories({});
    expect(categories.map((c) => c.id)).toEqual(
      [...seedCategories].sort((a, b) => a.name.localeCompare(b.name)).map((c) => c.id),
    );
  });

  it("pages through all products by name without gaps or repeats", async () => {
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await catalog().listProducts({ pageSize: 7, pageToken });
      expect(page.products.length).toBeLessThanOrEqual(7);
      seen.push(...page.products.map((p) => p.name));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(seen).toHaveLength(seedProducts.length);
    expect(new Set(seen).size).toBe(seedProducts.length);
    expect(seen).toEqual([...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(pages).toBe(Math.ceil(seedProducts.length / 7));
  });

  it("filters by category", async () => {
    const { products } = await catalog().listProducts({ categoryId: "garden", pageSize: 100 });
    expect(products.length).toBe(seedProducts.filter((p) => p.categoryId === "garden").length);
    expect(products.every((p) => p.categoryId === "garden")).toBe(true);
  });

  it("rejects a page token used with another filter", async () => {
    const first = await catalog().listProducts({ categoryId: "garden", pageSize: 2 });
    await expectCode(
      catalog().listProducts({ categoryId: "books", pageSize: 2, pageToken: first.nextPageToken }),
      Code.InvalidArgument,
      "page_token",
    );
    await expectCode(catalog().listProducts({ pageToken: "garbage" }), Code.InvalidArgument, "page_token");
  });

  it("searches with stemming, best match first", async () => {
    const { products } = await catalog().searchProducts({ query: "kettles" });
    expect(products[0]?.sku).toBe("KIT-KETTLE-01");
    const none = await catalog().searchProducts({ query: "zeppelin" });
    expect(none.products).toEqual([]);
  });

  const kitchen = seedProducts.filter((p) => p.categoryId === "kitchen");
  const ids = (list: readonly (Product | SeedProduct)[]) => list.map((p) => p.id);
  const cheapestFirst = (a: SeedProduct, b: SeedProduct) => a.priceMinor - b.priceMinor || (a.id < b.id ? -1 : 1);

  /** Every page of a listing, following the tokens. */
  async function allPages(request: { categoryId?: string; sort: ProductSort; pageSize: number }) {
    const seen: Product[] = [];
    let pageToken = "";
    do {
      const page = await catalog().listProducts({ ...request, pageToken });
      expect(page.totalSize).toBe(request.categoryId ? kitchen.length : seedProducts.length);
      seen.push(...page.products);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return seen;
  }

  it("sorts by price either way and newest first, paging by token without gaps or repeats", async () => {
    const byPrice = [...kitchen].sort(cheapestFirst);
    expect(ids(await allPages({ categoryId: "kitchen", sort: ProductSort.PRICE_LOW_TO_HIGH, pageSize: 3 }))).toEqual(
      ids(byPrice),
    );
    expect(ids(await allPages({ categoryId: "kitchen", sort: ProductSort.PRICE_HIGH_TO_LOW, pageSize: 3 }))).toEqual(
      ids([...kitchen].sort((a, b) => -cheapestFirst(a, b))),
    );
    // Seeded ids are UUIDv7 in the order the products were added.
    expect(ids(await allPages({ categoryId: "kitchen", sort: ProductSort.NEWEST, pageSize: 3 }))).toEqual(
      ids([...kitchen].sort((a, b) => (a.id < b.id ? 1 : -1))),
    );
    const byName = await allPages({ categoryId: "kitchen", sort: ProductSort.NAME, pageSize: 3 });
    expect(byName.map((p) => p.name)).toEqual(kitchen.map((p) => p.name).sort());
  });

  it("reaches any page by number (skip), with the total count", async () => {
    const byPrice = [...kitchen].sort(cheapestFirst);
    const page2 = await catalog().listProducts({
      categoryId: "kitchen",
      sort: ProductSort.PRICE_LOW_TO_HIGH,
      pageSize: 3,
      skip: 3,
    });
    expect(ids(page2.products)).toEqual(ids(byPrice.slice(3, 6)));
    expect(page2.totalSize).toBe(kitchen.length);
    const last = await catalog().listProducts({ pageSize: 10, skip: 30 });
    expect(last.products).toHaveLength(seedProducts.length - 30);
    expect(last.nextPageToken).toBe("");
    expect(last.totalSize).toBe(seedProducts.length);
    await expectCode(catalog().listProducts({ skip: -1 }), Code.InvalidArgument, "skip");
  });

  it("refuses a page token with another sort than it was issued for", async () => {
    const first = await catalog().listProducts({ pageSize: 2, sort: ProductSort.PRICE_LOW_TO_HIGH });
    await expectCode(
      catalog().listProducts({ pageSize: 2, sort: ProductSort.NEWEST, pageToken: first.nextPageToken }),
      Code.InvalidArgument,
      "page_token",
    );
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- a value the enum lacks, on purpose
    await expectCode(catalog().listProducts({ sort: 99 as ProductSort }), Code.InvalidArgument, "sort");
  });

  it("sorts and counts search results", async () => {
    const relevant = await catalog().searchProducts({ query: "steel", pageSize: 100 });
    expect(relevant.products.length).toBeGreaterThan(2);
    expect(relevant.totalSize).toBe(relevant.products.length);
    const cheapest = await catalog().searchProducts({
      query: "steel",
      sort: ProductSort.PRICE_LOW_TO_HIGH,
      pageSize: 2,
    });
    const prices = [...relevant.products].map((p) => p.price!.amountMinor).sort((a, b) => (a < b ? -1 : 1));
    expect(cheapest.products.map((p) => p.price!.amountMinor)).toEqual(prices.slice(0, 2));
    expect(cheapest.totalSize).toBe(relevant.totalSize);
    const second = await catalog().searchProducts({
      query: "steel",
      sort: ProductSort.PRICE_LOW_TO_HIGH,
      pageSize: 2,
      pageToken: cheapest.nextPageToken,
    });
    const skipped = await catalog().searchProducts({
      query: "steel",
      sort: ProductSort.PRICE_LOW_TO_HIGH,
      pageSize: 2,
      skip: 2,
    });
    expect(ids(second.products)).toEqual(ids(skipped.products));
  });

  it("gives every seeded product its own picture, also in a database seeded with category pictures", async () => {
    const { products } = await catalog().listProducts({ pageSize: 100 });
    for (const p of products) expect(p.imageUrl).toBe(seedImageUrl(p));
    expect(new Set(products.map((p) => p.imageUrl)).size).toBe(products.length);

    // A shop seeded before products had pictures of their own: the migration
    // moves seeded rows still on their category picture, and leaves an
    // operator's choice alone.
    const db = postgres(system.databaseUrl("catalog"), { max: 1, onnotice: () => {} });
    try {
      const [kettle, knife] = kitchen;
      await db`update products set image_url = '/images/kitchen.svg' where id = ${kettle.id}`;
      await db`update products set image_url = 'https://img.example/knife.jpg' where id = ${knife.id}`;
      await db.unsafe(readFileSync(new URL("../drizzle/0001_product_pictures.sql", import.meta.url), "utf8"));
      const rows = await db<{ id: string; image_url: string }[]>`
        select id, image_url from products where id in ${db([kettle.id, knife.id])}`;
      expect(Object.fromEntries(rows.map((r) => [r.id, r.image_url]))).toEqual({
        [kettle.id]: seedImageUrl(kettle),
        [knife.id]: "https://img.example/knife.jpg",
      });
      await db`update products set image_url = ${seedImageUrl(knife)} where id = ${knife.id}`;
    } finally {
      await db.end();
    }
  });

  it("gets one product, several at once, and reports unknown ids", async () => {
    const [a, b] = seedProducts;
    const { product } = await catalog().getProduct({ productId: a.id });
    expect(product?.price).toMatchObject({ currencyCode: "EUR", amountMinor: BigInt(a.priceMinor) });
    const batch = await catalog().batchGetProducts({
      productIds: [b.id, "019b76da-0000-7000-8000-000000000000", a.id],
    });
    expect(batch.products.map((p) => p.id)).toEqual([b.id, a.id]);
    await expectCode(catalog().getProduct({ productId: "019b76da-0000-7000-8000-000000000000" }), Code.NotFound);
  });

  it("answers invalid input with InvalidArgument naming the field", async () => {
    const err = await expectCode(catalog().getProduct({ productId: "not-a-uuid" }), Code.InvalidArgument);
    expect(err.rawMessage).toContain("product_id");
  });
});

describe("admin edits", () => {
  const newProduct = {
    sku: "TST-MUG-01",
    name: "Test mug",
    description: "A mug that only exists in tests",
    categoryId: "home",
    price: { currencyCode: "EUR", amountMinor: 1234n },
    imageUrl: "/images/home.svg",
  };

  it("requires the admin role", async () => {
    await expectCode(catalog().createProduct(newProduct), Code.Unauthenticated);
    const customer = await system.signUp();
    await expectCode(catalog().createProduct(newProduct, { headers: bearer(customer.token) }), Code.PermissionDenied);
    await expectCode(catalog().createProduct(newProduct, { headers: bearer("not.a.jwt") }), Code.Unauthenticated);
  });

  it("creates and reprices a product, publishing ProductCreated and PriceChanged", async () => {
    const headers = bearer(await system.adminToken());
    const bus = await EventBus.connect({ naming: system.naming });
    try {
      const { product } = await catalog().createProduct(newProduct, { headers });
      expect(product?.id).toMatch(/^[0-9a-f-]{36}$/);
      await expectCode(catalog().createProduct(newProduct, { headers }), Code.AlreadyExists, "sku");

      const updated = await catalog().updateProduct(
        { productId: product!.id, price: { currencyCode: "EUR", amountMinor: 999n } },
        { headers },
      );
      expect(updated.product?.price?.amountMinor).toBe(999n);
      expect(updated.product?.name).toBe("Test mug");
      // The same update again changes nothing and publishes nothing more.
      await catalog().updateProduct(
        { productId: product!.id, price: { currencyCode: "EUR", amountMinor: 999n } },
        { headers },
      );

      const stream = system.naming.stream(ProductCreatedSchema);
      const created = await eventually("ProductCreated in the stream", () =>
        bus.jsm.streams.getMessage(stream, { last_by_subj: system.naming.subject(ProductCreatedSchema) }),
      );
      expect(fromBinary(ProductCreatedSchema, created.data).product?.sku).toBe("TST-MUG-01");
      const info = await bus.jsm.streams.info(stream, { subjects_filter: ">" });
      expect(info.state.subjects?.[system.naming.subject(PriceChangedSchema)]).toBe(1);
      const changed = await bus.jsm.streams.getMessage(stream, {
        last_by_subj: system.naming.subject(PriceChangedSchema),
      });
      const event = fromBinary(PriceChangedSchema, changed!.data);
      expect([event.oldPrice?.amountMinor, event.newPrice?.amountMinor]).toEqual([1234n, 999n]);

      await expectCode(
        catalog().updateProduct(
          { productId: product!.id, price: { currencyCode: "USD", amountMinor: 999n } },
          { headers },
        ),
        Code.InvalidArgument,
        "currency",
      );
      await expectCode(
        catalog().createProduct({ ...newProduct, sku: "TST-MUG-02", categoryId: "nowhere" }, { headers }),
        Code.InvalidArgument,
        "category_id",
      );
    } finally {
      await bus.close();
    }
  });
});

describe("WatchCatalogChanges", () => {
  it("says it is live, then streams each price change and new product as published", async () => {
    const admin = await system.adminToken();
    const abort = new AbortController();
    const stream = catalog().watchCatalogChanges({}, { signal: abort.signal })[Symbol.asyncIterator]();
    const next = async () => {
      const result = await stream.next();
      if (result.done) throw new Error("the stream ended");
      return result.value;
    };
    try {
      expect((await next()).update).toEqual({ case: "live", value: true });
      const [product] = (await catalog().listProducts({ pageSize: 1 })).products;
      await catalog().updateProduct(
        {
          productId: product.id,
          price: { currencyCode: product.price!.currencyCode, amountMinor: product.price!.amountMinor + 7n },
        },
        { headers: bearer(admin) },
      );
      // A change that is not the price publishes nothing, so the next change is the new product's.
      await catalog().updateProduct({ productId: product.id, description: "watched" }, { headers: bearer(admin) });
      const { product: created } = await catalog().createProduct(
        {
          sku: `WATCH-${String(Date.now())}`,
          name: "Watched product",
          categoryId: "books",
          price: { currencyCode: "EUR", amountMinor: 500n },
        },
        { headers: bearer(admin) },
      );
      const changes: unknown[] = [];
      while (changes.length < 2) {
        const { update } = await next();
        if (update.case === "change") changes.push(update.value);
      }
      expect(changes).toMatchObject([
        { productId: product.id, eventType: "shop.catalog.v1.PriceChanged" },
        { productId: created!.id, eventType: "shop.catalog.v1.ProductCreated" },
      ]);
    } finally {
      abort.abort();
    }
  });
});
