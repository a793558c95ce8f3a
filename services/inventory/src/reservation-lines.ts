// What a reservation holds, and the stock rows it touches. Every path that
// changes stock for an order locks that order's stock rows in one order
// (product id), so concurrent reservations, releases and commits queue behind
// each other instead of deadlocking.
import { create } from "@bufbuild/protobuf";
import { asc, eq, inArray, sql } from "drizzle-orm";
import { StockLineSchema, type StockLine } from "@shop/gen/shop/inventory/v1/events_pb";
import type { OrderLine } from "@shop/gen/shop/order/v1/order_pb";
import type { Transaction } from "@shop/runtime/db/database";
import * as schema from "./schema.ts";
import { stock, type ReservedLine, type StockRow } from "./schema.ts";

export type InventoryTransaction = Transaction<typeof schema>;

/**
 * One line per product (an order may list a product twice), in the order
 * first seen. An order without lines or with a non-positive quantity cannot
 * come from the order service: throwing sends the event to the dead letters.
 */
export function reservedLinesOf(orderLines: readonly OrderLine[]): ReservedLine[] {
  if (orderLines.length === 0) throw new Error("OrderPlaced has no lines");
  const quantities = new Map<string, number>();
  for (const line of orderLines) {
    if (line.quantity <= 0) throw new Error(`OrderPlaced line for ${line.productId} has quantity ${line.quantity}`);
    const productId = line.productId.toLowerCase();
    quantities.set(productId, (quantities.get(productId) ?? 0) + line.quantity);
  }
  return [...quantities].map(([productId, quantity]) => ({ productId, quantity }));
}

/** Locks the stock rows of `lines` (FOR UPDATE, by product id); products never stocked are absent. */
export async function lockStock(
  tx: InventoryTransaction,
  lines: readonly ReservedLine[],
): Promise<Map<string, StockRow>> {
  const rows = await tx
    .select()
    .from(stock)
    .where(
      inArray(
        stock.productId,
        lines.map((l) => l.productId),
      ),
    )
    .orderBy(asc(stock.productId))
    .for("update");
  return new Map(rows.map((r) => [r.productId, r]));
}

/** How one unit of a line changes a stock row's `available` and `reserved`. */
export interface StockMovement {
  available: -1 | 0 | 1;
  reserved: -1 | 0 | 1;
}

/** Reserving takes units from available and holds them. */
export const HOLD: StockMovement = { available: -1, reserved: 1 };
/** Releasing gives held units back to available. */
export const RELEASE: StockMovement = { available: 1, reserved: -1 };
/** Committing lets held units leave stock for good. */
export const SELL: StockMovement = { available: 0, reserved: -1 };

/**
 * Applies `movement` to the (already locked) stock row of every line; the
 * updates are independent, so they go out together (the transaction's
 * connection pipelines them: one round trip, not one per line).
 */
export async function moveStock(
  tx: InventoryTransaction,
  lines: readonly ReservedLine[],
  movement: StockMovement,
): Promise<void> {
  await Promise.all(
    lines.map((line) =>
      tx
        .update(stock)
        .set({
          available: sql`${stock.available} + ${movement.available * line.quantity}`,
          reserved: sql`${stock.reserved} + ${movement.reserved * line.quantity}`,
          updatedAt: sql`now()`,
        })
        .where(eq(stock.productId, line.productId)),
    ),
  );
}

export function toStockLines(lines: readonly ReservedLine[]): StockLine[] {
  return lines.map((l) => create(StockLineSchema, { productId: l.productId, quantity: BigInt(l.quantity) }));
}
