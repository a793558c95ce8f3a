// The reference `npm run bench:rpc` measures the runtime against: a bare
// connect-node HTTP/2 server of the same generated CatalogService, answering
// GetProduct with a constant product (mode "constant") or with the same
// SELECT the catalog service runs, through drizzle on the same database
// (mode "db"). No interceptors, validation, logging or telemetry.
//
//   node --experimental-transform-types bare-catalog-server.ts <port> constant|db [database-url]
import http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { eq } from "drizzle-orm";
import { CatalogService, ProductSchema } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { openDatabase } from "@shop/runtime/db/database";
import { toProduct } from "../../services/catalog/src/catalog-service.ts";
import * as schema from "../../services/catalog/src/schema.ts";

const [port, mode, databaseUrl] = process.argv.slice(2);
const constant = create(ProductSchema, {
  id: "019b76da-a800-7064-9c80-317fa3b1799d",
  sku: "KETTLE-1",
  name: "Kettle",
  description: "A kettle",
  categoryId: "home",
  price: { currencyCode: "EUR", amountMinor: 2999n },
  imageUrl: "/images/products/kettle.svg",
  createdAt: timestampFromDate(new Date()),
  updatedAt: timestampFromDate(new Date()),
});
const db = mode === "db" && databaseUrl ? await openDatabase({ url: databaseUrl, schema }) : undefined;

const handler = connectNodeAdapter({
  routes(router) {
    router.service(CatalogService, {
      async getProduct({ productId }) {
        if (!db) return { product: constant };
        const row = (await db.select().from(schema.products).where(eq(schema.products.id, productId))).at(0);
        if (!row) throw new ConnectError(`product ${productId} not found`, Code.NotFound);
        return { product: toProduct(row) };
      },
    });
  },
});
http2.createServer(handler).listen(Number(port), "127.0.0.1", () => process.send?.("listening"));
