// CatalogService handlers: products, categories, prices. Reads are public;
// CreateProduct and UpdateProduct need the admin role and publish their events
// through the outbox in the same transaction as the change.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { and, asc, count, desc, eq, gt, inArray, lt, or, sql, type SQL } from "drizzle-orm";
import {
  CatalogService,
  CategorySchema,
  CreateProductRequestSchema,
  ProductSchema,
  ProductSort,
  type Product,
  type WatchCatalogChangesResponseSchema,
} from "@shop/gen/shop/catalog/v1/catalog_pb";
import { PriceChangedSchema, ProductCreatedSchema } from "@shop/gen/shop/catalog/v1/events_pb";
import { MoneySchema } from "@shop/gen/shop/common/v1/money_pb";
import { requireAdmin } from "@shop/runtime/authorization";
import { requiredField } from "@shop/runtime/field-violation";
import type { Database } from "@shop/runtime/db/database";
import type { Outbox } from "@shop/runtime/events/outbox";
import { drainSignalKey } from "@shop/runtime/server";
import { withHeartbeats } from "@shop/runtime/stream-heartbeats";
import { decodePageToken, encodePageToken, pageSizeOf } from "@shop/runtime/page-token";
import * as schema from "./schema.ts";
import { categories, products, type ProductRow } from "./schema.ts";
import { v7 as uuidv7 } from "uuid";
import type { PublishedBy } from "@shop/runtime/manifest";
import type { CatalogChangeFeed } from "./change-feed.ts";
import type { manifest } from "./manifest.ts";

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

/**
 * A listing's keyset: its ORDER BY, and page tokens that carry the position
 * of a page's last product, so the next page starts right after it. Every
 * order ends on the id, so it is total and pages never overlap.
 */
interface Keyset {
  orderBy: SQL[];
  /** Rows after the token's position; undefined for the first page. InvalidArgument for a bad token. */
  afterToken: (pageToken: string, filter: unknown) => SQL | undefined;
  /** The token for the page after `row`. */
  tokenAfter: (row: ProductRow, filter: unknown) => string;
}

function keyset<P>(definition: {
  orderBy: SQL[];
  after: (position: P) => SQL | undefined;
  positionOf: (row: ProductRow) => P;
  isPosition: (p: unknown) => p is P;
}): Keyset {
  return {
    orderBy: definition.orderBy,
    afterToken: (pageToken, filter) => {
      const position = decodePageToken(pageToken, filter, definition.isPosition);
      return position === undefined ? undefined : definition.after(position);
    },
    tokenAfter: (row, filter) => encodePageToken(definition.positionOf(row), filter),
  };
}

const isObject = (p: unknown): p is Record<string, unknown> => typeof p === "object" && p !== null;

const byName = keyset<{ name: string; id: string }>({
  orderBy: [asc(products.name), asc(products.id)],
  after: (p) => or(gt(products.name, p.name), and(eq(products.name, p.name), gt(products.id, p.id))),
  positionOf: (row) => ({ name: row.name, id: row.id }),
  isPosition: (p): p is { name: string; id: string } =>
    isObject(p) && typeof p.name === "string" && typeof p.id === "string",
});

const isPricePosition = (p: unknown): p is { price: string; id: string } =>
  isObject(p) && typeof p.price === "string" && /^-?\d{1,19}$/.test(p.price) && typeof p.id === "string";

const byPriceAscending = keyset<{ price: string; id: string }>({
  orderBy: [asc(products.priceMinor), asc(products.id)],
  after: (p) =>
    or(gt(products.priceMinor, BigInt(p.price)), and(eq(products.priceMinor, BigInt(p.price)), gt(products.id, p.id))),
  positionOf: (row) => ({ price: row.priceMinor.toString(), id: row.id }),
  isPosition: isPricePosition,
});

const byPriceDescending = keyset<{ price: string; id: string }>({
  orderBy: [desc(products.priceMinor), desc(products.id)],
  after: (p) =>
    or(lt(products.priceMinor, BigInt(p.price)), and(eq(products.priceMinor, BigInt(p.price)), lt(products.id, p.id))),
  positionOf: (row) => ({ price: row.priceMinor.toString(), id: row.id }),
  isPosition: isPricePosition,
});

// Ids are UUIDv7, minted when a product is added: descending id is newest first.
const byNewest = keyset<{ id: string }>({
  orderBy: [desc(products.id)],
  after: (p) => lt(products.id, p.id),
  positionOf: (row) => ({ id: row.id }),
  isPosition: (p): p is { id: string } => isObject(p) && typeof p.id === "string",
});

function keysetFor(sort: ProductSort): Keyset {
  switch (sort) {
    case ProductSort.PRICE_LOW_TO_HIGH:
      return byPriceAscending;
    case ProductSort.PRICE_HIGH_TO_LOW:
      return byPriceDescending;
    case ProductSort.NEWEST:
      return byNewest;
    default:
      return byName;
  }
}

/** The ORDER BY of search results sorted other than by relevance (offset-paged). */
function searchOrder(sort: ProductSort, tsquery: SQL): SQL[] {
  if (sort === ProductSort.UNSPECIFIED) return [sql`ts_rank(${products.search}, ${tsquery}) desc`, asc(products.id)];
  return keysetFor(sort).orderBy;
}

const isOffset = (p: unknown): p is number => Number.isInteger(p) && (p as number) >= 0;

const UNIQUE_VIOLATION = "23505";

export function catalogService(
  db: CatalogDatabase,
  outbox: Outbox<PublishedBy<typeof manifest>>,
  changes: Pick<CatalogChangeFeed, "watch">,
): ServiceImpl<typeof CatalogService> {
  // The hottest read (every product page, every order line), built once:
  // drizzle's query building was ~6% of a GetProduct's CPU.
  const productById = db
    .select()
    .from(products)
    .where(eq(products.id, sql.placeholder("id")))
    .prepare("catalog_product_by_id");
  return {
    async getProduct({ productId }) {
      const row = (await productById.execute({ id: productId })).at(0);
      if (!row) throw new ConnectError(`product ${productId} not found`, Code.NotFound);
      return { product: toProduct(row) };
    },

    async batchGetProducts({ productIds }) {
      const rows = await db.select().from(products).where(inArray(products.id, productIds));
      const byId = new Map(rows.map((r) => [r.id, r]));
      return {
        products: productIds.flatMap((id) => {
          const row = byId.get(id);
          return row ? [toProduct(row)] : [];
        }),
      };
    },

    async listProducts({ categoryId, pageSize, pageToken, sort, skip }) {
      const size = pageSizeOf(pageSize);
      // Tokens of the default order keep the filter they had before sorting existed.
      const named = sort === ProductSort.UNSPECIFIED || sort === ProductSort.NAME;
      const filter = named ? { categoryId } : { categoryId, sort };
      const order = keysetFor(sort);
      const after = order.afterToken(pageToken, filter);
      const inCategory = categoryId ? eq(products.categoryId, categoryId) : undefined;
      const [rows, [{ total }]] = await Promise.all([
        db
          .select()
          .from(products)
          .where(and(inCategory, after))
          .orderBy(...order.orderBy)
          .limit(size + 1)
          .offset(skip),
        db.select({ total: count() }).from(products).where(inCategory),
      ]);
      const page = rows.slice(0, size);
      const last = page.at(-1);
      return {
        products: page.map(toProduct),
        nextPageToken: rows.length > size && last ? order.tokenAfter(last, filter) : "",
        totalSize: total,
      };
    },

    async searchProducts({ query, pageSize, pageToken, sort, skip }) {
      const size = pageSizeOf(pageSize);
      const filter = sort === ProductSort.UNSPECIFIED ? { query } : { query, sort };
      const offset = (decodePageToken(pageToken, filter, isOffset) ?? 0) + skip;
      // websearch_to_tsquery accepts anything a person types (quotes, "or",
      // "-word") without raising syntax errors.
      const tsquery = sql`websearch_to_tsquery('english', ${query})`;
      const matches = sql`${products.search} @@ ${tsquery}`;
      const [rows, [{ total }]] = await Promise.all([
        db
          .select()
          .from(products)
          .where(matches)
          .orderBy(...searchOrder(sort, tsquery))
          .limit(size + 1)
          .offset(offset),
        db.select({ total: count() }).from(products).where(matches),
      ]);
      const page = rows.slice(0, size);
      return {
        products: page.map(toProduct),
        nextPageToken: rows.length > size ? encodePageToken(offset + size, filter) : "",
        totalSize: total,
      };
    },

    async listCategories() {
      const rows = await db.select().from(categories).orderBy(asc(categories.name));
      return { categories: rows.map((c) => create(CategorySchema, c)) };
    },

    async createProduct(req, ctx) {
      requireAdmin(ctx);
      const price = requiredField(req.price, CreateProductRequestSchema.field.price);
      try {
        const row = await db.transaction(async (tx) => {
          const category = (await tx.select().from(categories).where(eq(categories.id, req.categoryId))).at(0);
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
        const current = (await tx.select().from(products).where(eq(products.id, req.productId)).for("update")).at(0);
        if (!current) throw new ConnectError(`product ${req.productId} not found`, Code.NotFound);
        if (req.categoryId !== undefined) {
          const category = (await tx.select().from(categories).where(eq(categories.id, req.categoryId))).at(0);
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

    watchCatalogChanges(_req, ctx) {
      type Message = MessageInitShape<typeof WatchCatalogChangesResponseSchema>;
      async function* messages(): AsyncGenerator<Message> {
        const draining = ctx.values.get(drainSignalKey);
        for await (const item of changes.watch(AbortSignal.any([ctx.signal, draining]))) {
          yield item === "live"
            ? { update: { case: "live", value: true } }
            : { update: { case: "change", value: item } };
        }
        // Not a normal end: the gateway should watch again (another replica).
        if (!ctx.signal.aborted) {
          throw new ConnectError("the catalog is shutting down; watch again", Code.Unavailable);
        }
      }
      return withHeartbeats<Message>(ctx, messages(), () => ({ update: { case: "heartbeat", value: true } }));
    },
  };
}

function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === UNIQUE_VIOLATION) return true;
  }
  return false;
}
