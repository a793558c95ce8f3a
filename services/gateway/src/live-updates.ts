// WatchUpdates: everything a shopper follows live, on one stream. A browser
// on HTTP/1.1 has six connections per host for all its tabs, and each open
// stream holds one, so the web app keeps a single WatchUpdates per browser
// (one tab holds it for all; see web/src/live/) instead of a watch per tab
// and per order. Behind it the gateway opens the shopper's notification watch
// and one order watch per followed order (HTTP/2 to the services: no such
// limit there) and merges them.
//
// The notification watch's first heartbeat is passed on (it says new
// notifications are now followed); the order watches' heartbeats are not
// (the merged stream has heartbeats of its own). An order that is not the
// caller's is reported once (order_not_found) without ending the stream; any
// other failure ends it, and the client watches again. Ends cleanly when the
// gateway drains.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client, type HandlerContext } from "@connectrpc/connect";
import type { NotificationService } from "@shop/gen/shop/notification/v1/notification_pb";
import type { OrderService } from "@shop/gen/shop/order/v1/order_pb";
import type { WatchUpdatesResponseSchema } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { drainSignalKey } from "@shop/runtime/server";
import { withHeartbeats } from "@shop/runtime/stream-heartbeats";
import { mergeStreams } from "./stream-merge.ts";

type Update = MessageInitShape<typeof WatchUpdatesResponseSchema>;

const HEARTBEAT: Update = { update: { case: "heartbeat", value: true } };

export interface LiveSources {
  order: Pick<Client<typeof OrderService>, "watchOrder">;
  notification: Pick<Client<typeof NotificationService>, "watchNotifications">;
}

export function watchUpdates(
  ctx: HandlerContext,
  sources: LiveSources,
  request: { orderIds: readonly string[]; headers: Headers },
): AsyncGenerator<Update> {
  return withHeartbeats(ctx, mergedUpdates(ctx, sources, request), () => HEARTBEAT);
}

async function* mergedUpdates(
  ctx: HandlerContext,
  { order, notification }: LiveSources,
  { orderIds, headers }: { orderIds: readonly string[]; headers: Headers },
): AsyncGenerator<Update> {
  const draining = ctx.values.get(drainSignalKey);
  if (draining.aborted) return;
  const signal = AbortSignal.any([ctx.signal, draining]);

  async function* notifications(): AsyncGenerator<Update> {
    let first = true;
    for await (const res of notification.watchNotifications({}, { headers, signal })) {
      if (res.notification) yield { update: { case: "notification", value: res.notification } };
      else if (first) yield HEARTBEAT;
      first = false;
    }
  }

  async function* orderUpdates(orderId: string): AsyncGenerator<Update> {
    try {
      for await (const res of order.watchOrder({ orderId }, { headers, signal })) {
        if (res.order) yield { update: { case: "order", value: res.order } };
      }
    } catch (err) {
      if (ConnectError.from(err).code !== Code.NotFound) throw err;
      yield { update: { case: "orderNotFound", value: orderId } };
    }
  }

  try {
    yield* mergeStreams([notifications(), ...orderIds.map(orderUpdates)]);
  } catch (err) {
    // Draining: the watches behind were cut on purpose; the client watches again elsewhere.
    if (signal.aborted && !ctx.signal.aborted) return;
    throw err;
  }
}
