// OrderPlaced → hold every line of the order, or nothing.
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { eq, sql } from "drizzle-orm";
import { StockRejectedSchema, StockRejectionReason, StockReservedSchema } from "@shop/gen/shop/inventory/v1/events_pb";
import type { OrderPlaced } from "@shop/gen/shop/order/v1/events_pb";
import type { Outbox } from "@shop/runtime/events/outbox";
import {
  HOLD,
  lockStock,
  moveStock,
  reservedLinesOf,
  toStockLines,
  type InventoryTransaction,
} from "./reservation-lines.ts";
import { reservations } from "./schema.ts";
import type { PublishedBy } from "@shop/runtime/manifest";
import type { manifest } from "./manifest.ts";

export type ReserveOutcome = "reserved" | "rejected" | "already-decided";

export async function reserveStock(
  tx: InventoryTransaction,
  outbox: Outbox<PublishedBy<typeof manifest>>,
  placed: OrderPlaced,
): Promise<ReserveOutcome> {
  const lines = reservedLinesOf(placed.lines);

  // Claim the order first. Any existing row (a decision already made under
  // another event id, or a cancellation tombstone) means there is nothing to
  // do; a concurrent claim for the same order waits here on the primary key.
  // The row says RESERVED only inside this transaction until decided below.
  const claimed = await tx
    .insert(reservations)
    .values({ orderId: placed.orderId, userId: placed.userId, status: "RESERVED", lines })
    .onConflictDoNothing()
    .returning({ orderId: reservations.orderId });
  if (claimed.length === 0) return "already-decided";

  const levels = await lockStock(tx, lines);
  const unavailable = lines.filter((l) => (levels.get(l.productId)?.available ?? 0n) < BigInt(l.quantity));
  if (unavailable.length > 0) {
    const neverStocked = unavailable.some((l) => !levels.has(l.productId));
    await Promise.all([
      tx
        .update(reservations)
        .set({ status: "REJECTED", updatedAt: sql`now()` })
        .where(eq(reservations.orderId, placed.orderId)),
      outbox.enqueue(tx, StockRejectedSchema, {
        orderId: placed.orderId,
        reason: neverStocked ? StockRejectionReason.UNKNOWN_PRODUCT : StockRejectionReason.INSUFFICIENT_STOCK,
        // The quantity each unsatisfied product has available right now.
        unavailable: unavailable.map((l) => ({
          productId: l.productId,
          quantity: levels.get(l.productId)?.available ?? 0n,
        })),
        rejectedAt: timestampNow(),
      }),
    ]);
    return "rejected";
  }

  // The stock rows are locked: the updates and the event are independent, sent together.
  await Promise.all([
    moveStock(tx, lines, HOLD),
    outbox.enqueue(tx, StockReservedSchema, {
      orderId: placed.orderId,
      userId: placed.userId,
      lines: toStockLines(lines),
      ...(placed.total && { amount: placed.total }),
      cardToken: placed.cardToken,
      reservedAt: timestampNow(),
    }),
  ]);
  return "reserved";
}
