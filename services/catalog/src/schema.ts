// The catalog's tables. Prices are integer minor units plus currency; search
// uses a stored tsvector over name and description with a GIN index.
import { sql, type SQL } from "drizzle-orm";
import { bigint, customType, index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });

export const categories = pgTable("categories", {
  /** URL-friendly slug, e.g. "kitchen". */
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  description: text("description").notNull().default(""),
});

export const products = pgTable(
  "products",
  {
    id: uuid("id").primaryKey(),
    sku: text("sku").notNull().unique(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    categoryId: text("category_id")
      .notNull()
      .references(() => categories.id),
    priceMinor: bigint("price_minor", { mode: "bigint" }).notNull(),
    currencyCode: text("currency_code").notNull(),
    imageUrl: text("image_url").notNull().default(""),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /** Weighted: a match in the name ranks above one in the description. */
    search: tsvector("search")
      .notNull()
      .generatedAlwaysAs(
        (): SQL =>
          sql`setweight(to_tsvector('english', ${products.name}), 'A') || setweight(to_tsvector('english', ${products.description}), 'B')`,
      ),
  },
  (t) => [
    index("products_category_name_idx").on(t.categoryId, t.name, t.id),
    index("products_name_idx").on(t.name, t.id),
    index("products_search_idx").using("gin", t.search),
  ],
);

export type ProductRow = typeof products.$inferSelect;
