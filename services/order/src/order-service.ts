// OrderService handlers. Every RPC needs a signed-in caller; a customer sees
// only their own orders (someone else's id answers NotFound), an admin any.
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { and, desc, eq, lt } from "drizzle-orm";
import type { OrderService } from "@shop/gen/shop/order/v1/order_pb";
import { requireOwnerOrAdmin, requirePrincipal } from "@shop/runtime/authorization";
import { decodePageToken, encodePageToken, pageSizeOf } from "@shop/runtime/page-token";
import type { TransitionDeps } from "./apply-transition.ts";
import { inSnapshot, readOrder, withDetails } from "./order-reads.ts";
import { placeOrder, type PlaceOrderDeps } from "./place-order.ts";
import { lockOrder, sagaStep } from "./saga-step.ts";
import { orders } from "./schema.ts";
import { watchOrder, type WatchOrderDeps } from "./watch-order.ts";

export type OrderServiceDeps = PlaceOrderDeps & TransitionDeps & WatchOrderDeps;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isOrderId = (p: unknown): p is string => typeof p === "string" && UUID.test(p);

export function orderService(deps: OrderServiceDeps): ServiceImpl<typeof OrderService> {
  const { db } = deps;
  return {
    async placeOrder(req, ctx) {
      return { order: await placeOrder(deps, req, ctx) };
    },

    async getOrder({ orderId }, ctx) {
      requirePrincipal(ctx);
      const order = await readOrder(db, orderId);
      if (!order) throw new ConnectError("order not found", Code.NotFound);
      requireOwnerOrAdmin(ctx, order.userId, "order");
      return { order };
    },

    async listOrders({ pageSize, pageToken }, ctx) {
      const principal = requirePrincipal(ctx);
      const size = pageSizeOf(pageSize);
      // The token is bound to the user it was issued to.
      const filter = { userId: principal.subject };
      const after = decodePageToken(pageToken, filter, isOrderId);
      return inSnapshot(db, async (tx) => {
        // Ids are UUIDv7: descending id is newest first, and a total order for the keyset.
        const rows = await tx
          .select()
          .from(orders)
          .where(and(eq(orders.userId, principal.subject), after ? lt(orders.id, after) : undefined))
          .orderBy(desc(orders.id))
          .limit(size + 1);
        const page = rows.slice(0, size);
        const last = page.at(-1);
        return {
          orders: await withDetails(tx, page),
          nextPageToken: rows.length > size && last ? encodePageToken(last.id, filter) : "",
        };
      });
    },

    async cancelOrder({ orderId }, ctx) {
      const principal = requirePrincipal(ctx);
      await db.transaction(async (tx) => {
        const order = await lockOrder(tx, orderId);
        if (!order) throw new ConnectError("order not found", Code.NotFound);
        requireOwnerOrAdmin(ctx, order.userId, "order");
        const by = order.userId === principal.subject ? "customer" : "admin";
        const { transition } = await sagaStep(tx, deps, order, { type: "CancelRequested", by });
        if (transition.kind === "refused") throw new ConnectError(transition.message, Code.FailedPrecondition);
      });
      return { order: await readOrder(db, orderId) };
    },

    watchOrder(req, ctx) {
      return watchOrder(deps, req, ctx);
    },
  };
}
