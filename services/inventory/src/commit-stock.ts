// OrderConfirmed → the order's held units leave stock for good.
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { eq, sql } from "drizzle-orm";
import { StockCommittedSchema } from "@shop/gen/shop/inventory/v1/events_pb";
import type { Outbox } from "@shop/runtime/events/outbox";
import type { Logger } from "@shop/runtime/log";
import { lockStock, moveStock, SELL, toStockLines, type InventoryTransaction } from "./reservation-lines.ts";
import { reservations } from "./schema.ts";
import type { PublishedBy } from "@shop/runtime/manifest";
import type { manifest } from "./manifest.ts";

export type CommitOutcome = "committed" | "nothing-held";

export async function commitStock(
  tx: InventoryTransaction,
  outbox: Outbox<PublishedBy<typeof manifest>>,
  logger: Logger,
  orderId: string,
): Promise<CommitOutcome> {
  const reservation = (await tx.select().from(reservations).where(eq(reservations.orderId, orderId)).for("update")).at(
    0,
  );
  if (reservation?.status !== "RESERVED") {
    // COMMITTED is a harmless repeat. Anything else means an order was
    // confirmed without stock held for it: the saga has a bug, and there is
    // nothing here to commit.
    if (reservation?.status !== "COMMITTED") {
      logger.warn(
        { status: reservation?.status ?? "none" },
        "OrderConfirmed for an order with no stock held; ignored (saga bug?)",
      );
    }
    return "nothing-held";
  }

  const lines = reservation.lines;
  await lockStock(tx, lines);
  // With every row this touches locked, the rest is independent: sent together.
  await Promise.all([
    moveStock(tx, lines, SELL),
    tx
      .update(reservations)
      .set({ status: "COMMITTED", updatedAt: sql`now()` })
      .where(eq(reservations.orderId, orderId)),
    outbox.enqueue(tx, StockCommittedSchema, {
      orderId,
      lines: toStockLines(lines),
      committedAt: timestampNow(),
    }),
  ]);
  return "committed";
}
