// Loads the demo catalogue on start-up. Idempotent and safe with several
// replicas: rows that exist are left alone (an operator's edits win), so only
// a fresh database gets products. Seeded products are not announced as
// ProductCreated events: they exist from the beginning of the shop.
import type { Database } from "@shop/runtime/db/database";
import * as schema from "./schema.ts";
import { categories, products } from "./schema.ts";
import { SEED_CURRENCY, seedCategories, seedImageUrl, seedProducts } from "@shop/runtime/demo/catalogue";

export async function seedCatalogue(db: Database<typeof schema>): Promise<number> {
  await db
    .insert(categories)
    .values([...seedCategories])
    .onConflictDoNothing();
  const inserted = await db
    .insert(products)
    .values(
      seedProducts.map((p) => ({
        id: p.id,
        sku: p.sku,
        name: p.name,
        description: p.description,
        categoryId: p.categoryId,
        priceMinor: BigInt(p.priceMinor),
        currencyCode: SEED_CURRENCY,
        imageUrl: seedImageUrl(p),
      })),
    )
    .onConflictDoNothing()
    .returning({ id: products.id });
  return inserted.length;
}
