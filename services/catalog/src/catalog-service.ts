// CatalogService handlers: products, categories, prices. Reads are public;
// CreateProduct and UpdateProduct need the admin role and publish their events
// through the outbox in the same transaction as the change.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { and, asc, eq, gt, inArray, or, sql } from "drizzle-orm";
import { CatalogService, CategorySchema, ProductSchema, type Product } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { PriceChangedSchema, ProductCreatedSchema } from "@shop/gen/shop/catalog/v1/events_pb";
import { MoneySchema } from "@shop/gen/shop/common/v1/money_pb";
import { requireAdmin } from "@shop/runtime/authorization";
import type { Database } from "@shop/runtime/db/database";
import type { Outbox } from "@shop/runtime/events/outbox";
import { decodePageToken, encodePageToken, pageSizeOf } from "@shop/runtime/page-token";
import * as schema from "./schema.ts";
import { categories, products, type ProductRow } from "./schema.ts";
import { v7 as uuidv7 } from "uuid";

type CatalogDatabase = Database<typeof schema>;

export function toProduct(row: ProductRow): Product {
  return create(ProductSchema, {
    id: row.id,
    sku: row.sku,
    name: row.name,
    description: row.description,
    categoryId: row.categoryId,
    price: { currencyCode: row.currencyCode, amountMinor: row.priceMinor },
    imageUrl: row.imageUrl,
    createdAt: timestampFromDate(row.createdAt),
    updatedAt: timestampFromDate(row.updatedAt),
  });
}

interface NamePosition {
  name: string;
  id: string;
}
const isNamePosition = (p: unknown): p is NamePosition =>
  typeof p === "object" &&
  p !== null &&
  typeof (p as NamePosition).name === "string" &&
  typeof (p as NamePosition).id === "string";
const isOffset = (p: unknown): p is number => Number.isInteger(p) && (p as number) >= 0;

const UNIQUE_VIOLATION = "23505";

export function catalogService(db: CatalogDatabase, outbox: Outbox): ServiceImpl<typeof CatalogService> {
  return {
    async getProduct({ productId }) {
      const [row] = await db.select().from(products).where(eq(products.id, productId));
      if (!row) throw new ConnectError(`product ${productId} not found`, Code.NotFound);
      return { product: toProduct(row) };
    },

    async batchGetProducts({ productIds }) {
      const rows = await db.select().from(products).where(inArray(products.id, productIds));
      const byId = new Map(rows.map((r) => [r.id, r]));
      return { products: productIds.flatMap((id) => (byId.has(id) ? [toProduct(byId.get(id)!)] : [])) };
    },

    async listProducts({ categoryId, pageSize, pageToken }) {
      const size = pageSizeOf(pageSize);
      const filter = { categoryId };
      const after = decodePageToken(pageToken, filter, isNamePosition);
      const rows = await db
        .select()
        .from(products)
        .where(
          and(
            categoryId ? eq(products.categoryId, categoryId) : undefined,
            after
              ? or(gt(products.name, after.name), and(eq(products.name, after.name), gt(products.id, after.id)))
              : undefined,
          ),
        )
        .orderBy(asc(products.name), asc(products.id))
        .limit(size + 1);
      const page = rows.slice(0, size);
      const last = page.at(-1);
      return {
        products: page.map(toProduct),
        nextPageToken: rows.length > size && last ? encodePageToken({ name: last.name, id: last.id }, filter) : "",
      };
    },

    async searchProducts({ query, pageSize, pageToken }) {
      const size = pageSizeOf(pageSize);
      const filter = { query };
      const offset = decodePageToken(pageToken, filter, isOffset) ?? 0;
      // websearch_to_tsquery accepts anything a person types (quotes, "or",
      // "-word") without raising syntax errors.
      const tsquery = sql`websearch_to_tsquery('english', ${query})`;
      const rows = await db
        .select()
        .from(products)
        .where(sql`${products.search} @@ ${tsquery}`)
        .orderBy(sql`ts_rank(${products.search}, ${tsquery}) desc`, asc(products.id))
        .limit(size + 1)
        .offset(offset);
      const page = rows.slice(0, size);
      return {
        products: page.map(toProduct),
        nextPageToken: rows.length > size ? encodePageToken(offset + size, filter) : "",
      };
    },

    async listCategories() {
      const rows = await db.select().from(categories).orderBy(asc(categories.name));
      return { categories: rows.map((c) => create(CategorySchema, c)) };
    },

    async createProduct(req, ctx) {
      requireAdmin(ctx);
      const price = req.price!;
      try {
        const row = await db.transaction(async (tx) => {
          const [category] = await tx.select().from(categories).where(eq(categories.id, req.categoryId));
          if (!category) throw new ConnectError(`category_id: no category "${req.categoryId}"`, Code.InvalidArgument);
          const [inserted] = await tx
            .insert(products)
            .values({
              id: uuidv7(),
              sku: req.sku,
              name: req.name,
              description: req.description,
              categoryId: req.categoryId,
              priceMinor: price.amountMinor,
              currencyCode: price.currencyCode,
              imageUrl: req.imageUrl,
            })
            .returning();
          await outbox.enqueue(tx, ProductCreatedSchema, { product: toProduct(inserted) });
          return inserted;
        });
        return { product: toProduct(row) };
      } catch (err) {
        if (isUniqueViolation(err))
          throw new ConnectError(`sku: a product with SKU ${req.sku} already exists`, Code.AlreadyExists);
        throw err;
      }
    },

    async updateProduct(req, ctx) {
      requireAdmin(ctx);
      const row = await db.transaction(async (tx) => {
        const [current] = await tx.select().from(products).where(eq(products.id, req.productId)).for("update");
        if (!current) throw new ConnectError(`product ${req.productId} not found`, Code.NotFound);
        if (req.categoryId !== undefined) {
          const [category] = await tx.select().from(categories).where(eq(categories.id, req.categoryId));
          if (!category) throw new ConnectError(`category_id: no category "${req.categoryId}"`, Code.InvalidArgument);
        }
        if (req.price && req.price.currencyCode !== current.currencyCode) {
          throw new ConnectError(
            `price.currency_code: the product is priced in ${current.currencyCode}; currency changes are not supported`,
            Code.InvalidArgument,
          );
        }
        const changes = {
          ...(req.name !== undefined && { name: req.name }),
          ...(req.description !== undefined && { description: req.description }),
          ...(req.categoryId !== undefined && { categoryId: req.categoryId }),
          ...(req.imageUrl !== undefined && { imageUrl: req.imageUrl }),
          ...(req.price && { priceMinor: req.price.amountMinor }),
        };
        const unchanged = Object.entries(changes).every(([k, v]) => current[k as keyof ProductRow] === v);
        if (unchanged) return current; // repeating an update changes nothing, not even updated_at
        const [updated] = await tx
          .update(products)
          .set({ ...changes, updatedAt: new Date() })
          .where(eq(products.id, req.productId))
          .returning();
        if (updated.priceMinor !== current.priceMinor) {
          await outbox.enqueue(tx, PriceChangedSchema, {
            productId: updated.id,
            oldPrice: create(MoneySchema, { currencyCode: current.currencyCode, amountMinor: current.priceMinor }),
            newPrice: create(MoneySchema, { currencyCode: updated.currencyCode, amountMinor: updated.priceMinor }),
            changedAt: timestampNow(),
          });
        }
        return updated;
      });
      return { product: toProduct(row) };
    },
  };
}

function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === UNIQUE_VIOLATION) return true;
  }
  return false;
}
