import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import { StockReservedSchema } from "@shop/gen/shop/inventory/v1/events_pb";
import { DeadLetterService } from "@shop/gen/shop/ops/v1/dead_letters_pb";
import { OrderCancelledSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentCapturedSchema, PaymentFailedSchema, PaymentRefundedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { PaymentService } from "@shop/gen/shop/payment/v1/payment_pb";
import { defineService } from "@shop/runtime/manifest";

export const manifest = defineService({
  name: "payment",
  port: 7005,
  serves: [PaymentService, DeadLetterService],
  dependsOn: { identity: { service: IdentityService, methods: ["getJwks"] } },
  publishes: [PaymentCapturedSchema, PaymentFailedSchema, PaymentRefundedSchema],
  consumes: [StockReservedSchema, OrderCancelledSchema],
  database: true,
});
