// The catalog deployable: products, categories and prices (see manifest.ts).
import { fromBinary } from "@bufbuild/protobuf";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { PriceChangedSchema, ProductCreatedSchema } from "@shop/gen/shop/catalog/v1/events_pb";
import { implement } from "@shop/runtime/server";
import type { ServiceDefinition } from "@shop/runtime/service";
import { jwksAuthenticator } from "@shop/runtime/tokens";
import { CatalogChangeFeed } from "./change-feed.ts";
import { catalogService } from "./catalog-service.ts";
import { manifest } from "./manifest.ts";
import * as schema from "./schema.ts";
import { seedCatalogue } from "./seed.ts";

export const definition = {
  manifest,
  schema,
  migrations: new URL("../drizzle", import.meta.url),
  async setup({ db, outbox, bus, logger, clients, tokenSettings, onStop }) {
    const seeded = await seedCatalogue(db);
    if (seeded > 0) logger.info({ products: seeded }, "seeded the demo catalogue");
    if (!bus) throw new Error("catalog: the change feed needs NATS (the manifest publishes events)");
    // What WatchCatalogChanges streams: the events this service publishes that change what a reader sees.
    const feed = new CatalogChangeFeed(
      bus,
      [
        { type: ProductCreatedSchema, productIdOf: (data) => fromBinary(ProductCreatedSchema, data).product?.id ?? "" },
        { type: PriceChangedSchema, productIdOf: (data) => fromBinary(PriceChangedSchema, data).productId },
      ],
      logger,
    );
    feed.start();
    onStop(() => {
      feed.stop();
    });
    return {
      services: [implement(CatalogService, catalogService(db, outbox, feed))],
      authenticate: jwksAuthenticator(clients.identity, tokenSettings),
    };
  },
} satisfies ServiceDefinition<typeof manifest, typeof schema>;
