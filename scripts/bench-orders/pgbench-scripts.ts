// bench:orders' pgbench scripts (this folder's *.sql), filled in for a run:
// {{PRODUCT_IDS}} becomes the products the run set up, {{USER_ID}} a user
// identity knows. Shared by the benchmark and the test that runs every
// script once against databases made by the services' migrations.
import { readFileSync } from "node:fs";
import path from "node:path";

/** Services whose scripts write to a private copy of their database (made by their migrations). */
export const WRITERS = ["order", "inventory", "payment", "notification"] as const;
/** Services whose scripts only read (run against the live database, which holds the rows they look up). */
export const READERS = ["catalog", "identity"] as const;
export type ScriptedService = (typeof WRITERS)[number] | (typeof READERS)[number];

const SCRIPTS_DIR = import.meta.dirname;

export function pgbenchScript(
  service: ScriptedService,
  fill: { productIds: readonly string[]; userId: string },
): string {
  if (fill.productIds.length === 0) throw new Error("pgbench scripts need at least one product id");
  const productArray = `ARRAY[${fill.productIds.map((id) => `'${id}'`).join(",")}]::uuid[]`;
  return readFileSync(path.join(SCRIPTS_DIR, `${service}.sql`), "utf8")
    .replaceAll("{{PRODUCT_IDS}}", productArray)
    .replaceAll("{{USER_ID}}", fill.userId);
}
