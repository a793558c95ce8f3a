import { CancellationReason, OrderStatus, type Order, type TimelineEntry } from "@shop/gen/shop/order/v1/order_pb";
import { timestampDate } from "@bufbuild/protobuf/wkt";

export const STATUS_LABELS: Record<OrderStatus, string> = {
  [OrderStatus.UNSPECIFIED]: "Unknown",
  [OrderStatus.PENDING]: "Pending",
  [OrderStatus.AWAITING_PAYMENT]: "Awaiting payment",
  [OrderStatus.CONFIRMED]: "Confirmed",
  [OrderStatus.CANCELLED]: "Cancelled",
};

const REASON_LABELS: Record<CancellationReason, string> = {
  [CancellationReason.UNSPECIFIED]: "",
  [CancellationReason.OUT_OF_STOCK]: "out of stock",
  [CancellationReason.PAYMENT_FAILED]: "payment failed",
  [CancellationReason.CUSTOMER_REQUESTED]: "cancelled at your request",
  [CancellationReason.TIMED_OUT]: "timed out",
};

export function isTerminal(status: OrderStatus): boolean {
  return status === OrderStatus.CONFIRMED || status === OrderStatus.CANCELLED;
}

/** "Payment failed: card declined" */
export function cancellationText(order: Order): string {
  const reason = REASON_LABELS[order.cancellationReason] ?? "";
  const detail = order.cancellationDetail;
  const text = [reason, detail && detail !== reason ? detail : ""].filter(Boolean).join(": ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function StatusBadge({ status }: { status: OrderStatus }) {
  return (
    <span class={`badge badge--${OrderStatus[status]?.toLowerCase() ?? "unknown"}`}>
      {STATUS_LABELS[status] ?? "Unknown"}
    </span>
  );
}

export function formatTime(entry: { occurredAt?: TimelineEntry["occurredAt"] } | undefined): string {
  return entry?.occurredAt ? timestampDate(entry.occurredAt).toLocaleString() : "";
}

export function Timeline({ entries, label }: { entries: readonly TimelineEntry[]; label: string }) {
  return (
    <ol class="timeline" aria-label={label}>
      {entries.map((entry, i) => (
        <li key={i}>
          <time dateTime={entry.occurredAt ? timestampDate(entry.occurredAt).toISOString() : undefined}>
            {formatTime(entry)}
          </time>
          <span class="timeline-text">{entry.description}</span>
          <StatusBadge status={entry.status} />
        </li>
      ))}
    </ol>
  );
}
