import { UserRegisteredSchema } from "@shop/gen/shop/identity/v1/events_pb";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import { NotificationService } from "@shop/gen/shop/notification/v1/notification_pb";
import { DeadLetterService } from "@shop/gen/shop/ops/v1/dead_letters_pb";
import { OrderCancelledSchema, OrderConfirmedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentFailedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { defineService } from "@shop/runtime/manifest";

export const manifest = defineService({
  name: "notification",
  port: 7006,
  serves: [NotificationService, DeadLetterService],
  dependsOn: { identity: { service: IdentityService, methods: ["getJwks"] } },
  publishes: [],
  consumes: [UserRegisteredSchema, OrderConfirmedSchema, OrderCancelledSchema, PaymentFailedSchema],
  database: true,
});
