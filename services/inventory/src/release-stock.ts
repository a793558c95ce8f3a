// PaymentFailed / OrderCancelled → give an order's held units back to stock.
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { eq, sql } from "drizzle-orm";
import { StockReleasedSchema } from "@shop/gen/shop/inventory/v1/events_pb";
import type { Outbox } from "@shop/runtime/events/outbox";
import type { Logger } from "@shop/runtime/log";
import { lockStock, moveStock, RELEASE, toStockLines, type InventoryTransaction } from "./reservation-lines.ts";
import { reservations } from "./schema.ts";
import type { PublishedBy } from "@shop/runtime/manifest";
import type { manifest } from "./manifest.ts";

export type ReleaseOutcome = "released" | "tombstoned" | "nothing-held";

export async function releaseStock(
  tx: InventoryTransaction,
  outbox: Outbox<PublishedBy<typeof manifest>>,
  /** Carries the order id and event id already. */
  logger: Logger,
  order: { orderId: string; userId: string; cause: string },
): Promise<ReleaseOutcome> {
  // Events from different streams can overtake each other: when the order
  // has not been seen yet, a tombstone makes its late OrderPlaced reserve
  // nothing (reserveStock finds the row and stops).
  const tombstone = await tx
    .insert(reservations)
    .values({ orderId: order.orderId, userId: order.userId, status: "CANCELLED_BEFORE_RESERVE" })
    .onConflictDoNothing()
    .returning({ orderId: reservations.orderId });
  if (tombstone.length > 0) {
    logger.info({ cause: order.cause }, "order ended before its OrderPlaced arrived; it will reserve nothing");
    return "tombstoned";
  }

  const [reservation] = await tx
    .select()
    .from(reservations)
    .where(eq(reservations.orderId, order.orderId))
    .for("update");
  if (reservation.status !== "RESERVED") {
    if (reservation.status === "COMMITTED") {
      logger.warn({ cause: order.cause }, "release asked for a committed reservation; ignored (saga bug?)");
    }
    return "nothing-held";
  }

  const lines = reservation.lines;
  await lockStock(tx, lines);
  // With every row this touches locked, the rest is independent: sent together.
  await Promise.all([
    moveStock(tx, lines, RELEASE),
    tx
      .update(reservations)
      .set({ status: "RELEASED", updatedAt: sql`now()` })
      .where(eq(reservations.orderId, order.orderId)),
    outbox.enqueue(tx, StockReleasedSchema, {
      orderId: order.orderId,
      lines: toStockLines(lines),
      releasedAt: timestampNow(),
    }),
  ]);
  return "released";
}
