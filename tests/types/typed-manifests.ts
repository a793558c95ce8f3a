// Compile-time proof that the manifests are the one declaration of what a
// service may call, publish and consume. Never run: `npm run typecheck`
// (tsc over tests/) checks it, and every `@ts-expect-error` below fails the
// type-check if the line under it ever compiles, i.e. if the manifest types
// stop catching that mistake.
/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access --
   the lines under @ts-expect-error name members that do not exist, which is the point. */
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { ProductCreatedSchema } from "@shop/gen/shop/catalog/v1/events_pb";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import { StockReservedSchema } from "@shop/gen/shop/inventory/v1/events_pb";
import { OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentCapturedSchema } from "@shop/gen/shop/payment/v1/events_pb";
import { subscription } from "@shop/runtime/events/consumer";
import type { DependencyClients } from "@shop/runtime/clients";
import type { DbOrTx } from "@shop/runtime/events/outbox";
import { defineService } from "@shop/runtime/manifest";
import type { ServiceDefinition } from "@shop/runtime/service";
import type { GatewayClients } from "../../services/gateway/src/storefront-service.ts";
import type { manifest as orderManifest } from "../../services/order/src/manifest.ts";
import type { PlaceOrderDeps } from "../../services/order/src/place-order.ts";

declare const gateway: GatewayClients;
declare const order: PlaceOrderDeps;
declare const orderClients: DependencyClients<typeof orderManifest.dependsOn>;
declare const tx: DbOrTx;

export async function undeclaredCalls(): Promise<void> {
  // Declared in the gateway's manifest: compiles.
  await gateway.catalog.getProduct({ productId: "p" });
  // @ts-expect-error CatalogService has UpdateProduct, but the gateway does not declare it.
  await gateway.catalog.updateProduct({});
  // @ts-expect-error order declares identity's getUser and getJwks only.
  await order.identity.register({});
  // @ts-expect-error order does not depend on inventory at all.
  await orderClients.inventory.getStock({});
}

export async function undeclaredEvents(): Promise<void> {
  // Order publishes OrderPlaced: compiles.
  await order.outbox.enqueue(tx, OrderPlacedSchema, { orderId: "o" });
  // @ts-expect-error order does not publish catalog's ProductCreated.
  await order.outbox.enqueue(tx, ProductCreatedSchema, {});
}

export const misspeltMethod = defineService({
  name: "typo",
  port: 1,
  serves: [],
  // @ts-expect-error IdentityService has getJwks, not getJwk.
  dependsOn: { identity: { service: IdentityService, methods: ["getJwk"] } },
  publishes: [],
  consumes: [],
  database: false,
});

const paymentLike = defineService({
  name: "payment-like",
  port: 1,
  serves: [],
  dependsOn: { catalog: { service: CatalogService, methods: ["getProduct"] } },
  publishes: [PaymentCapturedSchema],
  consumes: [StockReservedSchema],
  database: true,
});

export const unconsumedSubscription = {
  manifest: paymentLike,
  setup: () => ({
    services: [],
    authenticate: undefined,
    subscriptions: [
      subscription({ durable: "payment-like", events: [StockReservedSchema], handle: async () => {} }),
      // @ts-expect-error the manifest does not consume OrderPlaced.
      subscription({ durable: "payment-like", events: [OrderPlacedSchema], handle: async () => {} }),
    ],
  }),
} satisfies ServiceDefinition<typeof paymentLike, Record<string, never>>;
