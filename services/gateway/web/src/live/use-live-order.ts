// One order as a page shows it: read once (GetOrder, so the page shows at
// once and knows a wrong id), then kept current through the browser's live
// connection until it is CONFIRMED or CANCELLED.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Order } from "@shop/gen/shop/order/v1/order_pb";
import { useEffect, useState } from "preact/hooks";
import { storefront } from "../api.ts";
import { isTerminal } from "../components/order-status.tsx";
import { signOut } from "../session.ts";
import { liveUpdates } from "./live-updates.ts";

export interface LiveOrder {
  order?: Order;
  failure?: unknown;
  retry: () => void;
}

/** The later of two states of one order (updates can cross the first read). */
function newer(a: Order | undefined, b: Order): Order {
  if (!a) return b;
  const at = (o: Order) => (o.updatedAt ? timestampMs(o.updatedAt) : 0);
  if (at(b) !== at(a)) return at(b) > at(a) ? b : a;
  return b.timeline.length >= a.timeline.length ? b : a;
}

export function useLiveOrder(orderId: string, enabled: boolean): LiveOrder {
  const [order, setOrder] = useState<Order | undefined>();
  const [failure, setFailure] = useState<unknown>();
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!enabled) return;
    setOrder(undefined);
    setFailure(undefined);
    const controller = new AbortController();
    let latest: Order | undefined;
    let unfollow: (() => void) | undefined;
    const stopFollowing = () => {
      unfollow?.();
      unfollow = undefined;
    };
    const show = (next: Order) => {
      latest = newer(latest, next);
      setOrder(latest);
      if (isTerminal(latest.status)) stopFollowing();
    };
    storefront.getOrder({ orderId }, { signal: controller.signal }).then(
      ({ order: read }) => {
        if (controller.signal.aborted || !read) return;
        show(read);
        if (!isTerminal(read.status) && !unfollow) {
          unfollow = liveUpdates.followOrder(orderId, (update) => {
            if (update) show(update);
            else setFailure(new ConnectError("no such order", Code.NotFound));
          });
        }
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        if (ConnectError.from(err).code === Code.Unauthenticated) signOut();
        setFailure(err);
      },
    );
    return () => {
      controller.abort();
      stopFollowing();
    };
  }, [orderId, enabled, attempt]);

  return {
    order,
    failure,
    retry: () => {
      setAttempt((n) => n + 1);
    },
  };
}
