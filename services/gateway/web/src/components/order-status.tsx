// How an order is shown: its status, its lines with their pictures, where
// it goes, and its timeline, all in the catalogue's words (messages.ts) from
// the order's structured fields (never the saga's own sentences).
import { OrderStatus, type Order, type ShippingAddress } from "@shop/gen/shop/order/v1/order_pb";
import { formatTime, isoTime } from "../format.ts";
import { isShownToShoppers, TIMELINE_TEXT } from "../messages.ts";
import { formatPrice } from "../money.ts";
import { Link } from "./link.tsx";
import { ProductImage } from "./product-image.tsx";

export const STATUS_LABELS: Record<OrderStatus, string> = {
  [OrderStatus.UNSPECIFIED]: "Unknown",
  [OrderStatus.PENDING]: "Reserving items",
  [OrderStatus.AWAITING_PAYMENT]: "Awaiting payment",
  [OrderStatus.CONFIRMED]: "Confirmed",
  [OrderStatus.CANCELLED]: "Cancelled",
};

export function isTerminal(status: OrderStatus): boolean {
  return status === OrderStatus.CONFIRMED || status === OrderStatus.CANCELLED;
}

export function StatusBadge({ status }: { status: OrderStatus }) {
  return <span class={`badge badge--${OrderStatus[status].toLowerCase()}`}>{STATUS_LABELS[status]}</span>;
}

export function Timeline({ order, label }: { order: Order; label: string }) {
  return (
    <ol class="timeline" aria-label={label}>
      {order.timeline
        .filter((entry) => isShownToShoppers(entry.kind))
        .map((entry, i) => (
          <li key={i}>
            <time dateTime={isoTime(entry.occurredAt)}>{formatTime(entry.occurredAt)}</time>
            <span class="timeline-text">{TIMELINE_TEXT[entry.kind]}</span>
          </li>
        ))}
    </ol>
  );
}

/** The order's lines, each with its picture, and the total. */
export function OrderLines({ order }: { order: Order }) {
  return (
    <>
      <ul class="line-items" aria-label="Items">
        {order.lines.map((line) => (
          <li key={line.productId} class="line-item">
            <ProductImage imageUrl={line.imageUrl} size="thumbnail" />
            <span class="line-item-name">
              <Link href={`/products/${line.productId}`}>{line.productName}</Link>
              <span class="muted">
                {" "}
                {line.quantity} × {formatPrice(line.unitPrice)}
              </span>
            </span>
            <span class="line-item-total">{formatPrice(line.lineTotal)}</span>
          </li>
        ))}
      </ul>
      <p class="total">
        Total: <strong>{formatPrice(order.total)}</strong>
      </p>
    </>
  );
}

const regionNames = new Intl.DisplayNames(["en"], { type: "region", fallback: "code" });

export function countryName(code: string): string {
  try {
    return regionNames.of(code) ?? code;
  } catch {
    return code;
  }
}

/** The address as lines, the way it goes on a parcel. */
export function AddressLines({ address }: { address: ShippingAddress }) {
  const town = [address.postalCode, address.city].filter(Boolean).join(" ");
  const lines = [address.name, address.line1, address.line2, town, address.region, countryName(address.countryCode)];
  return (
    <address>
      {lines
        .filter((line) => line.trim() !== "")
        .map((line, i) => (
          <span key={i} class="address-line">
            {line}
          </span>
        ))}
    </address>
  );
}

/** Where the order goes and who hears about it. */
export function DeliveryDetails({ order }: { order: Order }) {
  if (!order.shippingAddress && !order.contactEmail) return null;
  return (
    <div class="delivery">
      {order.shippingAddress && (
        <div>
          <h2>Shipping to</h2>
          <AddressLines address={order.shippingAddress} />
        </div>
      )}
      {order.contactEmail && (
        <div>
          <h2>Contact email</h2>
          <p>{order.contactEmail}</p>
        </div>
      )}
    </div>
  );
}
