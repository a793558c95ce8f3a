// The database stores statuses and cancellation reasons by name (Postgres
// enums); the API and the saga use the Protobuf enums.
import { CancellationReason, OrderStatus, TimelineEventKind } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentFailureReason } from "@shop/gen/shop/payment/v1/payment_pb";
import type {
  CancellationReasonName,
  OrderStatusName,
  PaymentFailureReasonName,
  TimelineEventKindName,
} from "./schema.ts";

export function statusFromName(name: OrderStatusName): OrderStatus {
  return OrderStatus[name];
}

export function statusName(status: OrderStatus): OrderStatusName {
  // An open enum: a number this build does not know has no name.
  const name = OrderStatus[status] as string | undefined;
  if (status === OrderStatus.UNSPECIFIED || name === undefined)
    throw new Error(`not a storable order status: ${status}`);
  return name as OrderStatusName;
}

export function reasonFromName(name: CancellationReasonName | null): CancellationReason {
  return name === null ? CancellationReason.UNSPECIFIED : CancellationReason[name];
}

export function reasonName(reason: CancellationReason): CancellationReasonName {
  const name = CancellationReason[reason] as string | undefined;
  if (reason === CancellationReason.UNSPECIFIED || name === undefined)
    throw new Error(`not a storable cancellation reason: ${reason}`);
  return name as CancellationReasonName;
}

export function timelineKindFromName(name: TimelineEventKindName | null): TimelineEventKind {
  return name === null ? TimelineEventKind.UNSPECIFIED : TimelineEventKind[name];
}

export function timelineKindName(kind: TimelineEventKind): TimelineEventKindName {
  if (kind === TimelineEventKind.UNSPECIFIED || !(kind in TimelineEventKind))
    throw new Error(`not a storable timeline event kind: ${String(kind)}`);
  return TimelineEventKind[kind] as TimelineEventKindName;
}

export function paymentFailureFromName(name: PaymentFailureReasonName | null): PaymentFailureReason {
  return name === null ? PaymentFailureReason.UNSPECIFIED : PaymentFailureReason[name];
}

/** Null for UNSPECIFIED: a failure the processor did not classify stores no reason. */
export function paymentFailureName(reason: PaymentFailureReason): PaymentFailureReasonName | null {
  return reason === PaymentFailureReason.UNSPECIFIED || !(reason in PaymentFailureReason)
    ? null
    : (PaymentFailureReason[reason] as PaymentFailureReasonName);
}
