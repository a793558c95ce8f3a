// An idle shop leaves its databases alone: no relay, sweeper, recovery loop
// or consumer commits a transaction every second while nothing happens. The
// background loops wait on LISTEN/NOTIFY or on the next deadline and keep
// only slow safety-net polls (the outbox relay's backs off to 30 s), so over
// a 20 s idle span each database sees a handful of commits at most, where a
// one-second poll would show 20 or more.
//
// Postgres counts a commit in pg_stat_database (xact_commit, read-only
// statements included) when the backend reports its statistics, which an
// idle backend does up to 10 s late (PGSTAT_IDLE_INTERVAL): the start-up's
// commits are let through first, and the span is read 11 s after it ends.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_DATABASE_URL, startSystem, type ServiceName, type TestSystem } from "../support/system.ts";

const WITH_DATABASES: ServiceName[] = ["identity", "catalog", "inventory", "payment", "order", "notification"];
const STATS_DELAY_MS = 11_000;
const IDLE_MS = 10_000;
/** Commits one database may see over the span (slow safety-net polls), far below one per second. */
const MOST_COMMITS = 4;

let system: TestSystem;
let admin: postgres.Sql;

beforeAll(async () => {
  system = await startSystem(WITH_DATABASES);
  admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await admin?.end({ timeout: 2 });
  await system?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function commits(): Promise<Record<string, number>> {
  const names = WITH_DATABASES.map((name) => new URL(system.databaseUrl(name)).pathname.slice(1));
  const rows = await admin<{ datname: string; commits: number }[]>`
    select datname, xact_commit::float8 as commits from pg_stat_database where datname in ${admin(names)}`;
  return Object.fromEntries(
    WITH_DATABASES.map((service, i) => [service, rows.find((r) => r.datname === names[i])?.commits ?? NaN]),
  );
}

describe("an idle shop", () => {
  it(
    "commits (almost) nothing: a few safety-net polls per database over 20 s, no per-second loop",
    async () => {
      await sleep(STATS_DELAY_MS);
      const before = await commits();
      await sleep(IDLE_MS + STATS_DELAY_MS);
      const after = await commits();
      const spent = Object.fromEntries(WITH_DATABASES.map((s) => [s, after[s] - before[s]]));
      for (const service of WITH_DATABASES) {
        expect.soft(spent[service], `${service}: ${JSON.stringify(spent)}`).toBeGreaterThanOrEqual(0);
        expect.soft(spent[service], `${service}: ${JSON.stringify(spent)}`).toBeLessThanOrEqual(MOST_COMMITS);
      }
    },
    STATS_DELAY_MS * 2 + IDLE_MS + 30_000,
  );
});
