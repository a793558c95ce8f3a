// One order, live: WatchOrder sends the order now and again after every
// change until it is CONFIRMED or CANCELLED; the status is announced as it
// changes (role=status), the timeline grows underneath.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Order } from "@shop/gen/shop/order/v1/order_pb";
import { useEffect, useState } from "preact/hooks";
import { storefront } from "../api.ts";
import { Link } from "../components/link.tsx";
import { cancellationText, isTerminal, StatusBadge, STATUS_LABELS, Timeline } from "../components/order-status.tsx";
import { describeError } from "../errors.ts";
import { followStream } from "../live-stream.ts";
import { formatPrice } from "../money.ts";
import { signOut } from "../session.ts";

export function OrderPage({ orderId }: { orderId: string }) {
  const [order, setOrder] = useState<Order | undefined>();
  const [connected, setConnected] = useState(true);
  const [failure, setFailure] = useState<unknown>();
  const [cancelling, setCancelling] = useState(false);
  const [cancelError, setCancelError] = useState("");

  useEffect(() => {
    setOrder(undefined);
    setFailure(undefined);
    const controller = new AbortController();
    let latest: Order | undefined;
    void followStream(
      (signal) => storefront.watchOrder({ orderId }, { signal }),
      {
        onMessage: (res) => {
          latest = res.order;
          setOrder(res.order);
        },
        onConnected: setConnected,
        isDone: () => latest !== undefined && isTerminal(latest.status),
        onFatal: (error) => {
          if (ConnectError.from(error).code === Code.Unauthenticated) signOut();
          setFailure(error);
        },
      },
      controller.signal,
    );
    return () => controller.abort();
  }, [orderId]);

  if (failure) {
    return (
      <section>
        <h1>Order</h1>
        <p role="alert">
          {ConnectError.from(failure).code === Code.NotFound ? "There is no such order." : describeError(failure)}
        </p>
        <Link href="/orders">Your orders</Link>
      </section>
    );
  }
  if (!order) return <p role="status">Loading the order…</p>;

  const cancel = async () => {
    setCancelling(true);
    setCancelError("");
    try {
      const res = await storefront.cancelOrder({ orderId });
      if (res.order) setOrder(res.order);
    } catch (err) {
      setCancelError(describeError(err));
    } finally {
      setCancelling(false);
    }
  };

  return (
    <section class="order" aria-labelledby="order-title">
      <h1 id="order-title">Order {order.id.slice(-8)}</h1>
      <div class="order-status" id="order-status" role="status" aria-live="polite" aria-atomic="true">
        <span>Status: </span>
        <strong data-testid="order-status">{STATUS_LABELS[order.status]}</strong>
        {order.cancellationReason !== 0 && <p data-testid="cancellation">{cancellationText(order)}</p>}
      </div>
      {!isTerminal(order.status) && <p class="muted">{connected ? "Updating live." : "Reconnecting…"}</p>}
      <h2>Items</h2>
      <ul class="summary">
        {order.lines.map((line) => (
          <li key={line.productId}>
            {line.quantity} × {line.productName} — {formatPrice(line.lineTotal)}
          </li>
        ))}
      </ul>
      <p class="total">
        Total: <strong>{formatPrice(order.total)}</strong> <StatusBadge status={order.status} />
      </p>
      {!isTerminal(order.status) && (
        <p>
          <button type="button" onClick={cancel} disabled={cancelling}>
            Cancel order
          </button>
          <span role="alert">{cancelError}</span>
        </p>
      )}
      <h2>Timeline</h2>
      <Timeline entries={order.timeline} label="Order timeline" />
      <p>
        <Link href="/orders">All your orders</Link>
      </p>
    </section>
  );
}
