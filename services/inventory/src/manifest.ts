import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import {
  StockCommittedSchema,
  StockRejectedSchema,
  StockReleasedSchema,
  StockReservedSchema,
} from "@shop/gen/shop/inventory/v1/events_pb";
import { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { DeadLetterService } from "@shop/gen/shop/ops/v1/dead_letters_pb";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentFailedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { defineService } from "@shop/runtime/manifest";

export const manifest = defineService({
  name: "inventory",
  port: 7003,
  serves: [InventoryService, DeadLetterService],
  dependsOn: { identity: { service: IdentityService, methods: ["getJwks"] } },
  publishes: [StockReservedSchema, StockRejectedSchema, StockReleasedSchema, StockCommittedSchema],
  consumes: [OrderPlacedSchema, PaymentFailedSchema, OrderCancelledSchema, OrderConfirmedSchema],
  database: true,
});
