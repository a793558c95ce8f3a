import { UserRegisteredSchema } from "@shop/gen/shop/identity/v1/events_pb";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import { defineService } from "@shop/runtime/manifest";

export const manifest = defineService({
  name: "identity",
  port: 7001,
  serves: [IdentityService],
  dependsOn: {},
  publishes: [UserRegisteredSchema],
  consumes: [],
  database: true,
});
