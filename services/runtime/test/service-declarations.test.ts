// The manifest's `consumes` against the subscriptions a service's setup
// returns: the streams and the mesh are made from the one, the consumers from
// the other, so startService refuses to run when they differ.
import { OrderCancelledSchema, OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { describe, expect, it } from "vitest";
import { defineService } from "../src/manifest.ts";
import { checkSubscriptions } from "../src/service.ts";

const manifest = defineService({
  name: "listener",
  port: 0,
  serves: [],
  dependsOn: {},
  publishes: [],
  consumes: [OrderPlacedSchema, OrderCancelledSchema],
  database: true,
});

describe("subscriptions against the manifest", () => {
  it("accepts subscriptions that together cover consumes", () => {
    expect(() =>
      checkSubscriptions(manifest, [{ events: [OrderPlacedSchema] }, { events: [OrderCancelledSchema] }]),
    ).not.toThrow();
  });

  it("names a consumed event nothing handles", () => {
    expect(() => checkSubscriptions(manifest, [{ events: [OrderPlacedSchema] }])).toThrow(
      "listener: subscriptions must cover the manifest's consumes exactly; no subscription for shop.order.v1.OrderCancelled",
    );
  });

  it("names a handled event the manifest does not declare", () => {
    const placedOnly = { ...manifest, consumes: [OrderPlacedSchema] };
    expect(() => checkSubscriptions(placedOnly, [{ events: [OrderPlacedSchema, OrderCancelledSchema] }])).toThrow(
      "listener: subscriptions must cover the manifest's consumes exactly; not in consumes: shop.order.v1.OrderCancelled",
    );
  });
});
