// The order saga as an explicit state machine: given an order's current status
// and something that happened to it, decide what changes. Pure: no database,
// no clock, no I/O; the callers (event consumer, CancelOrder, timeout sweeper)
// apply the decision under the order's row lock.
//
//   PENDING          --StockReserved-->   AWAITING_PAYMENT
//   PENDING          --StockRejected-->   CANCELLED (OUT_OF_STOCK)      + OrderCancelled
//   AWAITING_PAYMENT --PaymentCaptured--> CONFIRMED                     + OrderConfirmed
//   AWAITING_PAYMENT --PaymentFailed-->   CANCELLED (PAYMENT_FAILED)    + OrderCancelled
//   PENDING | AWAITING_PAYMENT --DeadlinePassed-->  CANCELLED (TIMED_OUT)          + OrderCancelled
//   PENDING | AWAITING_PAYMENT --CancelRequested--> CANCELLED (CUSTOMER_REQUESTED) + OrderCancelled
//
// Payment charges only orders whose stock is reserved, but order consumes
// StockReserved and the payment events on separate durables, so a payment
// outcome can overtake the reservation. A PaymentCaptured or PaymentFailed
// seen while still PENDING is therefore applied as if AWAITING_PAYMENT: the
// reservation it implies happened. (Treating it as out of order would leave
// the order waiting for a payment that already came, until it timed out and
// the customer was refunded.)
//
// StockReleased, StockCommitted and PaymentRefunded only add a timeline entry.
// Any other event that does not apply to the current status (late, duplicate,
// reordered; e.g. PaymentCaptured for an order already CANCELLED) adds a
// timeline note and changes nothing: the OrderCancelled that order already
// published is what makes payment refund and inventory release.
import { StockRejectionReason } from "@shop/gen/shop/inventory/v1/events_pb";
import { CancellationReason, OrderStatus, TimelineEventKind } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentFailureReason } from "@shop/gen/shop/payment/v1/payment_pb";

/** What the saga needs to know about an order. */
export interface SagaOrder {
  readonly status: OrderStatus;
  /** For naming products in cancellation details. */
  readonly lines: readonly { readonly productId: string; readonly productName: string; readonly quantity: number }[];
}

/** Something that happened to an order: an upstream event, the timeout, or a cancel request. */
export type SagaInput =
  | { readonly type: "StockReserved" }
  | {
      readonly type: "StockRejected";
      readonly reason: StockRejectionReason;
      readonly unavailable: readonly { readonly productId: string; readonly available: bigint }[];
    }
  | { readonly type: "StockReleased" }
  | { readonly type: "StockCommitted" }
  | { readonly type: "PaymentCaptured" }
  | { readonly type: "PaymentFailed"; readonly reason: PaymentFailureReason }
  | { readonly type: "PaymentRefunded" }
  /** The current waiting state's deadline passed. */
  | { readonly type: "DeadlinePassed" }
  | { readonly type: "CancelRequested"; readonly by: "customer" | "admin" };

/** An event order publishes as a consequence of a transition. */
export type SagaEmission =
  | { readonly type: "OrderConfirmed" }
  | { readonly type: "OrderCancelled"; readonly reason: CancellationReason; readonly detail: string };

export type Transition =
  /** The status changes; write the timeline entry and publish `emit`. */
  | {
      readonly kind: "advance";
      readonly status: OrderStatus;
      /** What the timeline entry says happened, for clients; `description` is for operators. */
      readonly event: TimelineEventKind;
      readonly description: string;
      readonly cancellation?: {
        readonly reason: CancellationReason;
        readonly detail: string;
        readonly paymentFailure?: PaymentFailureReason;
      };
      readonly emit: readonly SagaEmission[];
    }
  /** Status unchanged; only a timeline entry. */
  | { readonly kind: "note"; readonly event: TimelineEventKind; readonly description: string }
  /** Nothing to record (a timeout or cancel request for an order already finished). */
  | { readonly kind: "unchanged" }
  /** The request is not allowed in this status (cancelling a CONFIRMED order). */
  | { readonly kind: "refused"; readonly message: string };

/** The state an order waits in, whose deadline the sweeper enforces; null when terminal. */
export type WaitingFor = "stock" | "payment";

export function waitingFor(status: OrderStatus): WaitingFor | null {
  switch (status) {
    case OrderStatus.PENDING:
      return "stock";
    case OrderStatus.AWAITING_PAYMENT:
      return "payment";
    default:
      return null;
  }
}

export function isTerminal(status: OrderStatus): boolean {
  return status === OrderStatus.CONFIRMED || status === OrderStatus.CANCELLED;
}

export function decide(order: SagaOrder, input: SagaInput): Transition {
  const { status } = order;
  const waiting = waitingFor(status);
  switch (input.type) {
    case "StockReserved":
      if (status === OrderStatus.PENDING) {
        return advance(
          OrderStatus.AWAITING_PAYMENT,
          TimelineEventKind.STOCK_RESERVED,
          "stock reserved; waiting for payment",
        );
      }
      return ignored(
        "stock reservation",
        status,
        status === OrderStatus.CANCELLED ? "inventory releases it on the cancellation" : undefined,
      );

    case "StockRejected":
      if (status === OrderStatus.PENDING) {
        return cancel(
          TimelineEventKind.STOCK_REJECTED,
          CancellationReason.OUT_OF_STOCK,
          outOfStockDetail(order, input),
        );
      }
      return ignored("stock rejection", status);

    case "PaymentCaptured":
      if (waiting !== null) {
        return {
          kind: "advance",
          status: OrderStatus.CONFIRMED,
          event: TimelineEventKind.PAYMENT_CAPTURED,
          description: "payment captured; order confirmed",
          emit: [{ type: "OrderConfirmed" }],
        };
      }
      return ignored(
        "payment capture",
        status,
        status === OrderStatus.CANCELLED ? "the payment service refunds it on the cancellation" : undefined,
      );

    case "PaymentFailed":
      if (waiting !== null)
        return cancel(
          TimelineEventKind.PAYMENT_FAILED,
          CancellationReason.PAYMENT_FAILED,
          paymentFailureDetail(input.reason),
          input.reason,
        );
      return ignored("payment failure", status);

    case "StockReleased":
      return { kind: "note", event: TimelineEventKind.STOCK_RELEASED, description: "reserved stock released" };
    case "StockCommitted":
      return { kind: "note", event: TimelineEventKind.STOCK_COMMITTED, description: "reserved stock committed" };
    case "PaymentRefunded":
      return { kind: "note", event: TimelineEventKind.PAYMENT_REFUNDED, description: "payment refunded" };

    case "DeadlinePassed":
      if (waiting === "stock")
        return cancel(
          TimelineEventKind.STOCK_TIMED_OUT,
          CancellationReason.TIMED_OUT,
          "stock was not reserved in time",
        );
      if (waiting === "payment")
        return cancel(
          TimelineEventKind.PAYMENT_TIMED_OUT,
          CancellationReason.TIMED_OUT,
          "payment was not completed in time",
        );
      return { kind: "unchanged" };

    case "CancelRequested":
      if (waiting !== null) {
        return input.by === "admin"
          ? cancel(
              TimelineEventKind.CANCELLED_BY_ADMIN,
              CancellationReason.CUSTOMER_REQUESTED,
              "cancelled by an administrator",
            )
          : cancel(
              TimelineEventKind.CANCELLED_BY_CUSTOMER,
              CancellationReason.CUSTOMER_REQUESTED,
              "cancelled by the customer",
            );
      }
      if (status === OrderStatus.CANCELLED) return { kind: "unchanged" };
      return { kind: "refused", message: "the order is CONFIRMED and can no longer be cancelled" };
  }
}

function advance(status: OrderStatus, event: TimelineEventKind, description: string): Transition {
  return { kind: "advance", status, event, description, emit: [] };
}

function cancel(
  event: TimelineEventKind,
  reason: CancellationReason,
  detail: string,
  paymentFailure?: PaymentFailureReason,
): Transition {
  return {
    kind: "advance",
    status: OrderStatus.CANCELLED,
    event,
    description: `cancelled: ${detail}`,
    cancellation: { reason, detail, ...(paymentFailure !== undefined && { paymentFailure }) },
    emit: [{ type: "OrderCancelled", reason, detail }],
  };
}

function ignored(what: string, status: OrderStatus, consequence?: string): Transition {
  const state = OrderStatus[status];
  return {
    kind: "note",
    event: TimelineEventKind.LATE_EVENT_IGNORED,
    description: `ignored ${what}: the order is already ${state}${consequence ? `; ${consequence}` : ""}`,
  };
}

function outOfStockDetail(order: SagaOrder, input: Extract<SagaInput, { type: "StockRejected" }>): string {
  const heading = input.reason === StockRejectionReason.UNKNOWN_PRODUCT ? "not stocked" : "not enough stock";
  if (input.unavailable.length === 0) return heading;
  const items = input.unavailable.map(({ productId, available }) => {
    const line = order.lines.find((l) => l.productId === productId);
    return line
      ? `${line.productName} (${line.quantity} ordered, ${available} available)`
      : `${productId} (${available} available)`;
  });
  return `${heading}: ${items.join(", ")}`;
}

export function paymentFailureDetail(reason: PaymentFailureReason): string {
  switch (reason) {
    case PaymentFailureReason.CARD_DECLINED:
      return "card declined";
    case PaymentFailureReason.INSUFFICIENT_FUNDS:
      return "insufficient funds";
    case PaymentFailureReason.PROCESSOR_UNAVAILABLE:
      return "payment processor unavailable";
    case PaymentFailureReason.INVALID_CARD_TOKEN:
      return "invalid or expired card token";
    default:
      return "payment failed";
  }
}
