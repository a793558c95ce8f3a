// Opening stock for the demo catalogue (the same fixed product ids catalog
// seeds). Idempotent and safe with several replicas starting at once: a
// product that already has a stock row keeps it, so restocks and sales are
// never overwritten.
import type { Database } from "@shop/runtime/db/database";
import { seedProducts } from "@shop/runtime/demo/catalogue";
import * as schema from "./schema.ts";
import { stock } from "./schema.ts";

export async function seedOpeningStock(db: Database<typeof schema>): Promise<number> {
  const inserted = await db
    .insert(stock)
    .values(seedProducts.map((p) => ({ productId: p.id, available: BigInt(p.openingStock) })))
    .onConflictDoNothing()
    .returning({ productId: stock.productId });
  return inserted.length;
}
