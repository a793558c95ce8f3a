// StorefrontService: the public API, implemented by calling the internal
// services with the caller's token (forwardToken) and composing where the
// browser needs it (products come with live stock; WatchUpdates merges the
// streams a shopper follows into one). It stores nothing.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type {
  StorefrontService,
  WatchNotificationsResponseSchema,
  WatchOrderResponseSchema,
} from "@shop/gen/shop/storefront/v1/storefront_pb";
import { requirePrincipal } from "@shop/runtime/authorization";
import { alongside } from "@shop/runtime/child-abort";
import type { DependencyClients } from "@shop/runtime/clients";
import { withHeartbeats } from "@shop/runtime/stream-heartbeats";
import { forwardToken } from "@shop/runtime/tokens";
import type { CatalogReads } from "./catalog-cache.ts";
import { watchUpdates } from "./live-updates.ts";
import type { manifest } from "./manifest.ts";
import { asViews, stockLevels, withStock } from "./product-views.ts";
import { relayStream } from "./stream-relay.ts";

export type GatewayClients = DependencyClients<typeof manifest.dependsOn>;

/** Call options for a downstream call made on behalf of the caller. */
function asCaller(ctx: HandlerContext) {
  return { headers: forwardToken(requirePrincipal(ctx)), signal: ctx.signal };
}

/**
 * `catalogReads(ctx)`: the catalog client a handler reads with, the read
 * cache's for the methods it covers (catalog-cache.ts); the plain catalog
 * client by default.
 */
export function storefrontService(
  clients: GatewayClients,
  catalogReads: (ctx: HandlerContext) => CatalogReads = () => clients.catalog,
): ServiceImpl<typeof StorefrontService> {
  const { identity, inventory, payment, order, notification } = clients;
  return {
    async signUp({ email, password, displayName }, ctx) {
      const res = await identity.register({ email, password, displayName }, { signal: ctx.signal });
      return { session: { user: res.user, accessToken: res.accessToken } };
    },

    async signIn({ email, password }, ctx) {
      const res = await identity.login({ email, password }, { signal: ctx.signal });
      return { session: { user: res.user, accessToken: res.accessToken } };
    },

    async getMe(_req, ctx) {
      const { user } = await identity.getMe({}, asCaller(ctx));
      return { user };
    },

    async listCategories(_req, ctx) {
      const { categories } = await catalogReads(ctx).listCategories({}, { signal: ctx.signal });
      return { categories };
    },

    async listProducts({ categoryId, pageSize, pageToken, sort, skip }, ctx) {
      const page = await catalogReads(ctx).listProducts(
        { categoryId, pageSize, pageToken, sort, skip },
        { signal: ctx.signal },
      );
      return {
        products: await withStock(inventory, page.products, ctx.signal),
        nextPageToken: page.nextPageToken,
        totalSize: page.totalSize,
      };
    },

    async searchProducts({ query, pageSize, pageToken, sort, skip }, ctx) {
      const page = await catalogReads(ctx).searchProducts(
        { query, pageSize, pageToken, sort, skip },
        { signal: ctx.signal },
      );
      return {
        products: await withStock(inventory, page.products, ctx.signal),
        nextPageToken: page.nextPageToken,
        totalSize: page.totalSize,
      };
    },

    async getProduct({ productId }, ctx) {
      // Both asked at once (the id is all the stock read needs). The
      // catalog's failure (NotFound) is the answer as soon as it comes, and
      // the stock read still in flight is abandoned.
      return alongside(
        ctx.signal,
        (signal) => stockLevels(inventory, [productId], signal),
        async (stock) => {
          const { product } = await catalogReads(ctx).getProduct({ productId }, { signal: ctx.signal });
          const [view] = asViews(product ? [product] : [], await stock);
          return { product: view };
        },
      );
    },

    async tokenizeCard(req, ctx) {
      const res = await payment.tokenizeCard(
        {
          cardNumber: req.cardNumber,
          expMonth: req.expMonth,
          expYear: req.expYear,
          cvc: req.cvc,
          cardholderName: req.cardholderName,
        },
        asCaller(ctx),
      );
      return { cardToken: res.cardToken, cardBrand: res.cardBrand, cardLast4: res.cardLast4 };
    },

    async placeOrder({ idempotencyKey, lines, cardToken, shippingAddress, contactEmail }, ctx) {
      const res = await order.placeOrder(
        {
          idempotencyKey,
          cardToken,
          lines: lines.map(({ productId, quantity }) => ({ productId, quantity })),
          shippingAddress,
          contactEmail,
        },
        asCaller(ctx),
      );
      return { order: res.order };
    },

    async cancelOrder({ orderId }, ctx) {
      return { order: (await order.cancelOrder({ orderId }, asCaller(ctx))).order };
    },

    async getOrder({ orderId }, ctx) {
      return { order: (await order.getOrder({ orderId }, asCaller(ctx))).order };
    },

    async listOrders({ pageSize, pageToken }, ctx) {
      const res = await order.listOrders({ pageSize, pageToken }, asCaller(ctx));
      return { orders: res.orders, nextPageToken: res.nextPageToken };
    },

    watchOrder({ orderId }, ctx) {
      const { headers } = asCaller(ctx);
      type Message = MessageInitShape<typeof WatchOrderResponseSchema>;
      const relayed = relayStream<{ order?: Message["order"]; heartbeat: boolean }, Message>(
        ctx,
        (signal) => order.watchOrder({ orderId }, { headers, signal }),
        (res) => (res.heartbeat ? { heartbeat: true } : { order: res.order }),
      );
      return withHeartbeats<Message>(ctx, relayed, () => ({ heartbeat: true }));
    },

    async listNotifications({ pageSize, pageToken }, ctx) {
      const res = await notification.listNotifications({ pageSize, pageToken }, asCaller(ctx));
      return { notifications: res.notifications, nextPageToken: res.nextPageToken };
    },

    watchNotifications(_req, ctx) {
      const { headers } = asCaller(ctx);
      type Message = MessageInitShape<typeof WatchNotificationsResponseSchema>;
      const relayed = relayStream<{ notification?: Message["notification"]; heartbeat: boolean }, Message>(
        ctx,
        (signal) => notification.watchNotifications({}, { headers, signal }),
        (res) => (res.heartbeat ? { heartbeat: true } : { notification: res.notification }),
      );
      return withHeartbeats<Message>(ctx, relayed, () => ({ heartbeat: true }));
    },

    watchUpdates({ orderIds }, ctx) {
      const { headers } = asCaller(ctx);
      return watchUpdates(ctx, { order, notification }, { orderIds, headers });
    },
  };
}
