// Order history, newest first, each order with its timeline.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { storefront } from "../api.ts";
import { CallStatus } from "../components/call-status.tsx";
import { Link } from "../components/link.tsx";
import { cancellationText, StatusBadge, Timeline } from "../components/order-status.tsx";
import { Pager } from "../components/product-grid.tsx";
import { formatPrice } from "../money.ts";
import { useCall } from "../use-call.ts";
import { SignInFirst } from "./sign-in-first.tsx";
import { session } from "../session.ts";
import { useStore } from "../store.ts";

const PAGE_SIZE = 10;

export function OrdersPage({ pageToken }: { pageToken: string }) {
  const signedIn = useStore(session);
  const [page, retry] = useCall(
    async (signal) => (signedIn ? storefront.listOrders({ pageSize: PAGE_SIZE, pageToken }, { signal }) : undefined),
    [pageToken, signedIn?.user.id],
  );
  if (!signedIn) return <SignInFirst title="Your orders" next="/orders" />;
  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">Your orders</h1>
      <CallStatus state={page} retry={retry} what="your orders" />
      {page.status === "done" && page.value && (
        <>
          {page.value.orders.length === 0 && <p>You have not ordered anything yet.</p>}
          <ul class="orders" aria-label="Orders">
            {page.value.orders.map((order) => (
              <li key={order.id} class="order-card" data-order-id={order.id}>
                <h2>
                  <Link href={`/orders/${order.id}`}>Order {order.id.slice(-8)}</Link>
                </h2>
                <p>
                  {order.createdAt ? timestampDate(order.createdAt).toLocaleString() : ""} · {formatPrice(order.total)}{" "}
                  · <StatusBadge status={order.status} />
                </p>
                <p class="muted">{order.lines.map((l) => `${l.quantity} × ${l.productName}`).join(", ")}</p>
                {order.cancellationReason !== 0 && <p>{cancellationText(order)}</p>}
                <details>
                  <summary>Timeline</summary>
                  <Timeline entries={order.timeline} label={`Timeline of order ${order.id.slice(-8)}`} />
                </details>
              </li>
            ))}
          </ul>
          <Pager basePath="/orders" pageToken={pageToken} nextPageToken={page.value.nextPageToken} />
        </>
      )}
    </section>
  );
}
