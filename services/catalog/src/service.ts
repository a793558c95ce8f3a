// The catalog deployable: products, categories and prices (see manifest.ts).
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { implement } from "@shop/runtime/server";
import type { ServiceDefinition } from "@shop/runtime/service";
import { jwksAuthenticator } from "@shop/runtime/tokens";
import { catalogService } from "./catalog-service.ts";
import { manifest } from "./manifest.ts";
import * as schema from "./schema.ts";
import { seedCatalogue } from "./seed.ts";

export const definition = {
  manifest,
  schema,
  migrations: new URL("../drizzle", import.meta.url),
  async setup({ db, outbox, logger, clients, tokenSettings }) {
    const seeded = await seedCatalogue(db);
    if (seeded > 0) logger.info({ products: seeded }, "seeded the demo catalogue");
    return {
      services: [implement(CatalogService, catalogService(db, outbox))],
      authenticate: jwksAuthenticator(clients.identity, tokenSettings),
    };
  },
} satisfies ServiceDefinition<typeof manifest, typeof schema>;
