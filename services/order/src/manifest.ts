import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import {
  StockCommittedSchema,
  StockRejectedSchema,
  StockReleasedSchema,
  StockReservedSchema,
} from "@shop/gen/shop/inventory/v1/events_pb";
import { DeadLetterService } from "@shop/gen/shop/ops/v1/dead_letters_pb";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { OrderService } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentCapturedSchema, PaymentFailedSchema, PaymentRefundedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { defineService } from "@shop/runtime/manifest";

export const manifest = defineService({
  name: "order",
  port: 7004,
  serves: [OrderService, DeadLetterService],
  dependsOn: {
    // The customer must exist; also the token-verification keys.
    identity: { service: IdentityService, methods: ["getUser", "getJwks"] },
    // Prices are taken from the catalog, never from the client.
    catalog: { service: CatalogService, methods: ["batchGetProducts"] },
  },
  publishes: [OrderPlacedSchema, OrderConfirmedSchema, OrderCancelledSchema],
  consumes: [
    StockReservedSchema,
    StockRejectedSchema,
    StockReleasedSchema,
    StockCommittedSchema,
    PaymentCapturedSchema,
    PaymentFailedSchema,
    PaymentRefundedSchema,
  ],
  database: true,
});
