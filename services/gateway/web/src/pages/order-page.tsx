// One order, live: the status is announced as it changes (role=status), the
// timeline grows underneath, and a cancelled order offers to try again from
// the cart that was kept for it.
import { CancellationReason, OrderStatus, type Order } from "@shop/gen/shop/order/v1/order_pb";
import { useState } from "preact/hooks";
import { storefront } from "../api.ts";
import { cart } from "../cart.ts";
import { CallStatus } from "../components/call-status.tsx";
import { Link } from "../components/link.tsx";
import { DeliveryDetails, isTerminal, OrderLines, StatusBadge, Timeline } from "../components/order-status.tsx";
import { describeError } from "../errors.ts";
import { formatDateTime, orderNumber } from "../format.ts";
import { liveStatus } from "../live/live-updates.ts";
import { useLiveOrder } from "../live/use-live-order.ts";
import { cancellationMessage, retryAdvice } from "../messages.ts";
import { usePageTitle } from "../page-title.ts";
import { currentPath } from "../router.ts";
import { session } from "../session.ts";
import { useStore } from "../store.ts";
import { SignInFirst } from "./sign-in-first.tsx";

const NOT_FOUND = "We could not find this order among yours.";

export function OrderPage({ orderId }: { orderId: string }) {
  const signedIn = useStore(session);
  const live = useLiveOrder(orderId, signedIn !== null);
  usePageTitle(live.order ? `Order ${orderNumber(live.order.id)}` : "Order");
  if (!signedIn) return <SignInFirst title="Your order" next={currentPath()} />;
  if (!live.order) return <OrderLoading live={live} />;
  return <OrderDetails order={live.order} onChange={live.retry} />;
}

/** Loading, or why the order cannot be shown (with a way back). */
export function OrderLoading({ live }: { live: ReturnType<typeof useLiveOrder> }) {
  return (
    <section aria-labelledby="order-title">
      <h1 id="order-title">{live.failure ? "Order not found" : "Your order"}</h1>
      <CallStatus
        state={live.failure ? { status: "failed", error: live.failure } : { status: "loading" }}
        retry={live.retry}
        what="the order"
        context={{ notFound: NOT_FOUND }}
        orElse={
          <p>
            <Link href="/orders">Your orders</Link>
          </p>
        }
      />
    </section>
  );
}

/** What can be done from a cancelled order: the cart it came from is still there. */
export function RetryFromCart({ order }: { order: Order }) {
  const lines = useStore(cart);
  if (order.status !== OrderStatus.CANCELLED || lines.length === 0) return null;
  const byCard = order.cancellationReason === CancellationReason.PAYMENT_FAILED;
  return (
    <div class="retry">
      <p>{retryAdvice(order.cancellationReason, order.paymentFailureReason)}</p>
      {byCard ? (
        <Link class="button button--primary" href="/checkout?retry=1">
          Try another card
        </Link>
      ) : (
        <Link class="button button--primary" href="/cart">
          Review your cart
        </Link>
      )}
    </div>
  );
}

function OrderDetails({ order, onChange }: { order: Order; onChange: () => void }) {
  const status = useStore(liveStatus);
  const [cancelling, setCancelling] = useState(false);
  const [cancelError, setCancelError] = useState("");
  const cancel = async () => {
    if (cancelling) return;
    setCancelling(true);
    setCancelError("");
    try {
      await storefront.cancelOrder({ orderId: order.id });
      onChange();
    } catch (err) {
      setCancelError(describeError(err, { refused: "This order can no longer be cancelled." }));
    } finally {
      setCancelling(false);
    }
  };
  return (
    <section class="order" aria-labelledby="order-title">
      <h1 id="order-title">Order {orderNumber(order.id)}</h1>
      <p class="muted">Placed {formatDateTime(order.createdAt)}</p>
      <div class="order-status" role="status" aria-live="polite" aria-atomic="true">
        <span>Status: </span>
        <strong data-testid="order-status">
          <StatusBadge status={order.status} />
        </strong>
        {order.status === OrderStatus.CANCELLED && (
          <p data-testid="cancellation">{cancellationMessage(order.cancellationReason, order.paymentFailureReason)}</p>
        )}
      </div>
      {!isTerminal(order.status) && (
        <p class="muted" data-testid="live-status">
          {status === "live" ? "Updating live." : status === "off" ? "Not updating." : "Reconnecting…"}
        </p>
      )}
      <RetryFromCart order={order} />
      <h2>Items</h2>
      <OrderLines order={order} />
      <DeliveryDetails order={order} />
      {!isTerminal(order.status) && (
        <p>
          <button type="button" onClick={() => void cancel()} aria-disabled={cancelling ? "true" : undefined}>
            Cancel order
          </button>{" "}
          <span role="alert">{cancelError}</span>
        </p>
      )}
      <h2>Timeline</h2>
      <Timeline order={order} label="Order timeline" />
      <p>
        <Link href="/orders">All your orders</Link>
      </p>
    </section>
  );
}
