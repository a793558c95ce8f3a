// Where checkout lands: the order just placed, followed live. While the shop
// reserves the items and charges the card it says so; then either "thank
// you" with what was ordered and where it goes, or why it did not go through
// and the way to try again with the cart that was kept.
import { OrderStatus, type Order } from "@shop/gen/shop/order/v1/order_pb";
import { Link } from "../components/link.tsx";
import { DeliveryDetails, OrderLines } from "../components/order-status.tsx";
import { orderNumber } from "../format.ts";
import { useLiveOrder } from "../live/use-live-order.ts";
import { cancellationMessage } from "../messages.ts";
import { usePageTitle } from "../page-title.ts";
import { currentPath } from "../router.ts";
import { session } from "../session.ts";
import { useStore } from "../store.ts";
import { OrderLoading, RetryFromCart } from "./order-page.tsx";
import { SignInFirst } from "./sign-in-first.tsx";

function headline(order: Order): { title: string; text: string } {
  const number = orderNumber(order.id);
  switch (order.status) {
    case OrderStatus.CONFIRMED:
      return {
        title: "Thank you for your order",
        text: `Order ${number} is confirmed and paid. We will send it on its way soon.`,
      };
    case OrderStatus.CANCELLED:
      return {
        title: "Your order did not go through",
        text: cancellationMessage(order.cancellationReason, order.paymentFailureReason),
      };
    case OrderStatus.AWAITING_PAYMENT:
      return {
        title: "Thank you: almost done",
        text: `Your items are reserved. Charging your card for order ${number}…`,
      };
    default:
      return { title: "Thank you: almost done", text: `Reserving your items for order ${number}…` };
  }
}

export function ConfirmationPage({ orderId }: { orderId: string }) {
  const signedIn = useStore(session);
  const live = useLiveOrder(orderId, signedIn !== null);
  const order = live.order;
  const words = order ? headline(order) : undefined;
  usePageTitle(words?.title ?? "Your order");
  if (!signedIn) return <SignInFirst title="Your order" next={currentPath()} />;
  if (!order || !words) return <OrderLoading live={live} />;
  return (
    <section class="confirmation-page" aria-labelledby="confirmation-title">
      <h1 id="confirmation-title">{words.title}</h1>
      <div
        class={`outcome outcome--${OrderStatus[order.status].toLowerCase()}`}
        role="status"
        aria-live="polite"
        aria-atomic="true"
        data-testid="outcome"
      >
        <p>{words.text}</p>
      </div>
      <RetryFromCart order={order} />
      <h2>Order {orderNumber(order.id)}</h2>
      <OrderLines order={order} />
      <DeliveryDetails order={order} />
      <p class="actions">
        <Link href={`/orders/${order.id}`}>Order details and timeline</Link>
        {order.status === OrderStatus.CONFIRMED && (
          <Link class="button" href="/">
            Continue shopping
          </Link>
        )}
      </p>
    </section>
  );
}
