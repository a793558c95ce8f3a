// bench:orders' pgbench scripts, each run a few times against a database made
// by its service's own migrations: a table or column a migration renames
// breaks this test in CI instead of a benchmark run nobody makes there.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, ensureDatabase, withDatabase } from "../../services/runtime/src/db/database.ts";
import { migrate } from "../../services/runtime/src/db/migrate.ts";
import { ADMIN_DATABASE_URL, uniqueId } from "../../tests/support/system.ts";
import { REPO_ROOT } from "../start/services.ts";
import { pgbenchScript, READERS, WRITERS } from "./pgbench-scripts.ts";

const productIds = Array.from({ length: 20 }, () => crypto.randomUUID());
const userId = crypto.randomUUID();
const databases = new Map<string, string>();
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "pgbench-scripts-"));
  for (const service of [...WRITERS, ...READERS]) {
    const url = withDatabase(ADMIN_DATABASE_URL, uniqueId(`bench_${service}`));
    await ensureDatabase(url);
    await migrate(url, path.join(REPO_ROOT, "services", service, "drizzle"));
    databases.set(service, url);
  }
  // The inventory script moves stock of these products, as the bench's own set-up provides.
  const inventory = postgres(databases.get("inventory") ?? "", { max: 1, onnotice: () => {} });
  for (const id of productIds) await inventory`insert into stock (product_id, available) values (${id}, 1000000)`;
  await inventory.end();
});

afterAll(async () => {
  for (const url of databases.values()) await dropDatabase(url);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("bench:orders' pgbench scripts", () => {
  it.each([...WRITERS, ...READERS])("%s.sql runs against the service's migrated schema", (service) => {
    const file = path.join(dir, `${service}.sql`);
    writeFileSync(file, pgbenchScript(service, { productIds, userId }));
    const url = new URL(databases.get(service) ?? "");
    // As bench:orders runs it (prepared statements), but a few transactions
    // from two clients instead of seconds of load. Exits non-zero on any
    // SQL error (a client aborts).
    const out = execFileSync(
      "pgbench",
      ["-n", "-M", "prepared", "-f", file, "-c", "2", "-t", "3", "-h", url.hostname, "-p", url.port || "5432"].concat([
        "-U",
        decodeURIComponent(url.username) || "postgres",
        url.pathname.slice(1),
      ]),
      { encoding: "utf8", env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) } },
    );
    expect(out).toMatch(/number of transactions actually processed: 6\/6/);
    expect(out).toMatch(/number of failed transactions: 0/);
  });
});
