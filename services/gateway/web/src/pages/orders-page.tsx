// Order history, newest first: each order's pictures, number, date, total and
// status, with its timeline a click away.
import { storefront } from "../api.ts";
import { CallStatus } from "../components/call-status.tsx";
import { Link } from "../components/link.tsx";
import { ProductImage } from "../components/product-image.tsx";
import { StatusBadge, Timeline } from "../components/order-status.tsx";
import { TokenPager } from "../components/product-grid.tsx";
import { formatDateTime, orderNumber } from "../format.ts";
import { cancellationMessage } from "../messages.ts";
import { formatPrice } from "../money.ts";
import { usePageTitle } from "../page-title.ts";
import { session } from "../session.ts";
import { useStore } from "../store.ts";
import { useCall } from "../use-call.ts";
import { SignInFirst } from "./sign-in-first.tsx";
import { OrderStatus } from "@shop/gen/shop/order/v1/order_pb";

const PAGE_SIZE = 10;

export function OrdersPage({ pageToken }: { pageToken: string }) {
  const signedIn = useStore(session);
  const [page, retry] = useCall(
    async (signal) => (signedIn ? storefront.listOrders({ pageSize: PAGE_SIZE, pageToken }, { signal }) : undefined),
    [pageToken, signedIn?.user.id],
  );
  usePageTitle("Your orders");
  if (!signedIn) return <SignInFirst title="Your orders" next="/orders" />;
  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">Your orders</h1>
      <CallStatus state={page} retry={retry} what="your orders" />
      {page.status === "done" && page.value && (
        <>
          {page.value.orders.length === 0 && (
            <p>
              You have not ordered anything yet. <Link href="/">Browse products</Link>
            </p>
          )}
          <ul class="orders" aria-label="Orders">
            {page.value.orders.map((order) => (
              <li key={order.id} class="order-card" data-order-id={order.id}>
                <div class="order-card-head">
                  <h2>
                    <Link href={`/orders/${order.id}`}>Order {orderNumber(order.id)}</Link>
                  </h2>
                  <StatusBadge status={order.status} />
                </div>
                <p class="muted">
                  {formatDateTime(order.createdAt)} · {formatPrice(order.total)}
                </p>
                <ul class="thumbnails" aria-label={`Items in order ${orderNumber(order.id)}`}>
                  {order.lines.map((l) => (
                    <li key={l.productId}>
                      <ProductImage imageUrl={l.imageUrl} size="thumbnail" />
                      <span>
                        {l.quantity} × {l.productName}
                      </span>
                    </li>
                  ))}
                </ul>
                {order.status === OrderStatus.CANCELLED && (
                  <p>{cancellationMessage(order.cancellationReason, order.paymentFailureReason)}</p>
                )}
                <details>
                  <summary>
                    Timeline<span class="visually-hidden"> of order {orderNumber(order.id)}</span>
                  </summary>
                  <Timeline order={order} label={`Timeline of order ${orderNumber(order.id)}`} />
                </details>
              </li>
            ))}
          </ul>
          <TokenPager basePath="/orders" pageToken={pageToken} nextPageToken={page.value.nextPageToken} />
        </>
      )}
    </section>
  );
}
