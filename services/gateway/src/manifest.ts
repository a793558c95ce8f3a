import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { NotificationService } from "@shop/gen/shop/notification/v1/notification_pb";
import { OrderService } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentService } from "@shop/gen/shop/payment/v1/payment_pb";
import { StorefrontService } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { defineService } from "@shop/runtime/manifest";

export const manifest = defineService({
  name: "gateway",
  // Browsers (HTTP/1.1) and gRPC clients (h2c) share this port.
  port: 8080,
  serves: [StorefrontService],
  // Sign-up, sign-in and catalog reads: a stale token left in a browser must
  // not stop anyone from browsing (caller-auth.ts; the mesh's edge rules).
  publicMethods: ["signUp", "signIn", "listCategories", "listProducts", "searchProducts", "getProduct"],
  dependsOn: {
    identity: { service: IdentityService, methods: ["register", "login", "getMe", "getJwks"] },
    catalog: {
      service: CatalogService,
      // watchCatalogChanges: the read cache's invalidations (catalog-cache.ts); the gateway is its only caller.
      methods: [
        "getProduct",
        "batchGetProducts",
        "listProducts",
        "searchProducts",
        "listCategories",
        "watchCatalogChanges",
      ],
    },
    inventory: { service: InventoryService, methods: ["getStock", "batchGetStock"] },
    payment: { service: PaymentService, methods: ["tokenizeCard"] },
    order: { service: OrderService, methods: ["placeOrder", "getOrder", "listOrders", "cancelOrder", "watchOrder"] },
    notification: { service: NotificationService, methods: ["listNotifications", "watchNotifications"] },
  },
  publishes: [],
  consumes: [],
  database: false,
});
