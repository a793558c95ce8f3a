import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { PriceChangedSchema, ProductCreatedSchema } from "@shop/gen/shop/catalog/v1/events_pb";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import { defineService } from "@shop/runtime/manifest";

export const manifest = defineService({
  name: "catalog",
  port: 7002,
  serves: [CatalogService],
  // Only to fetch the keys that verify access tokens (admin edits).
  dependsOn: { identity: { service: IdentityService, methods: ["getJwks"] } },
  publishes: [ProductCreatedSchema, PriceChangedSchema],
  consumes: [],
  database: true,
});
