// The database stores statuses and cancellation reasons by name (Postgres
// enums); the API and the saga use the Protobuf enums.
import { CancellationReason, OrderStatus } from "@shop/gen/shop/order/v1/order_pb";
import type { CancellationReasonName, OrderStatusName } from "./schema.ts";

export function statusFromName(name: OrderStatusName): OrderStatus {
  return OrderStatus[name];
}

export function statusName(status: OrderStatus): OrderStatusName {
  const name = OrderStatus[status];
  if (status === OrderStatus.UNSPECIFIED || name === undefined)
    throw new Error(`not a storable order status: ${status}`);
  return name as OrderStatusName;
}

export function reasonFromName(name: CancellationReasonName | null): CancellationReason {
  return name === null ? CancellationReason.UNSPECIFIED : CancellationReason[name];
}

export function reasonName(reason: CancellationReason): CancellationReasonName {
  const name = CancellationReason[reason];
  if (reason === CancellationReason.UNSPECIFIED || name === undefined)
    throw new Error(`not a storable cancellation reason: ${reason}`);
  return name as CancellationReasonName;
}
