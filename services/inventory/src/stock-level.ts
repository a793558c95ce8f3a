// The API's view of a stock row. A product that was never stocked has no row
// and reads as zero available, zero reserved.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { StockLevelSchema, type StockLevel } from "@shop/gen/shop/inventory/v1/inventory_pb";
import type { StockRow } from "./schema.ts";

export function toStockLevel(productId: string, row: StockRow | undefined): StockLevel {
  if (!row) return create(StockLevelSchema, { productId, available: 0n, reserved: 0n });
  return create(StockLevelSchema, {
    productId: row.productId,
    available: row.available,
    reserved: row.reserved,
    updatedAt: timestampFromDate(row.updatedAt),
  });
}
