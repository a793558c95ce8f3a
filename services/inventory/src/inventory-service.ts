// InventoryService handlers: stock reads are public; Restock needs the admin
// role and is idempotent by its restock_id. Reservations are not an RPC: they
// follow the order events (see order-events.ts).
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { eq, inArray, sql } from "drizzle-orm";
import type { InventoryService, RestockRequest } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { requireAdmin } from "@shop/runtime/authorization";
import type { Database } from "@shop/runtime/db/database";
import * as schema from "./schema.ts";
import { restocks, stock, type RestockRow } from "./schema.ts";
import { toStockLevel } from "./stock-level.ts";

type InventoryDatabase = Database<typeof schema>;

export function inventoryService(db: InventoryDatabase): ServiceImpl<typeof InventoryService> {
  return {
    async getStock({ productId }) {
      const [row] = await db.select().from(stock).where(eq(stock.productId, productId));
      return { stock: toStockLevel(productId, row) };
    },

    async batchGetStock({ productIds }) {
      const rows = await db.select().from(stock).where(inArray(stock.productId, productIds));
      const byId = new Map(rows.map((r) => [r.productId, r]));
      // Postgres answers with lower-case uuids; callers may send upper case.
      return { stock: productIds.map((id) => toStockLevel(id, byId.get(id.toLowerCase()))) };
    },

    async restock(req, ctx) {
      const admin = requireAdmin(ctx);
      const row = await db.transaction(async (tx) => {
        // The restock id is claimed first: a concurrent call with the same id
        // waits on the primary key here and then finds it taken.
        const claimed = await tx
          .insert(restocks)
          .values({
            restockId: req.restockId,
            productId: req.productId,
            quantity: req.quantity,
            restockedBy: admin.subject,
          })
          .onConflictDoNothing()
          .returning();
        if (claimed.length === 0) {
          const [earlier] = await tx.select().from(restocks).where(eq(restocks.restockId, req.restockId));
          assertSameRestock(earlier, req);
          const [current] = await tx.select().from(stock).where(eq(stock.productId, req.productId));
          return current;
        }
        const [updated] = await tx
          .insert(stock)
          .values({ productId: req.productId, available: req.quantity })
          .onConflictDoUpdate({
            target: stock.productId,
            set: { available: sql`${stock.available} + excluded.available`, updatedAt: sql`now()` },
          })
          .returning();
        return updated;
      });
      return { stock: toStockLevel(req.productId, row) };
    },
  };
}

/** Reusing a restock id for a different delivery is a client bug, not a repeat. */
function assertSameRestock(earlier: RestockRow, req: RestockRequest): void {
  if (earlier.productId !== req.productId.toLowerCase() || earlier.quantity !== req.quantity) {
    throw new ConnectError(
      `restock_id: restock ${req.restockId} was already applied with a different product or quantity`,
      Code.AlreadyExists,
    );
  }
}
