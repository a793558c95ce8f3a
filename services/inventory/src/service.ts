// The inventory deployable: stock levels and reservations (see manifest.ts).
import { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { implement } from "@shop/runtime/server";
import type { ServiceDefinition } from "@shop/runtime/service";
import { jwksAuthenticator } from "@shop/runtime/tokens";
import { inventoryService } from "./inventory-service.ts";
import { manifest } from "./manifest.ts";
import { orderEventsSubscription } from "./order-events.ts";
import * as schema from "./schema.ts";
import { seedOpeningStock } from "./seed.ts";

export const definition = {
  manifest,
  schema,
  migrations: new URL("../drizzle", import.meta.url),
  async setup({ db, outbox, logger, clients, tokenSettings }) {
    const seeded = await seedOpeningStock(db);
    if (seeded > 0) logger.info({ products: seeded }, "seeded opening stock for the demo catalogue");
    return {
      services: [implement(InventoryService, inventoryService(db))],
      subscriptions: [orderEventsSubscription(outbox, logger)],
      authenticate: jwksAuthenticator(clients.identity, tokenSettings),
    };
  },
} satisfies ServiceDefinition<typeof manifest, typeof schema>;
