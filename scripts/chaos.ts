// `npm run chaos`: a bounded chaos run against the real system. It starts
// `npm start` on a private embedded Postgres and nats-server (a temporary
// SHOP_DATA_DIR, free ports, 127.0.0.1 only), places a mix of orders while a
// seeded schedule SIGKILLs service instances of every kind, kills NATS and
// shuts Postgres down in immediate mode (the launcher brings each back), then
// waits until nothing moves and checks every saga invariant of DESIGN.md with
// SQL and API calls, one line per check, ending "N passed, M failed" (exit 1
// if any failed). The same seed gives the same fault schedule and order mix.
//
//   npm run chaos                                  300 orders, a random seed
//   npm run chaos -- --orders 3000 --replicas 2    the long run, two of every event consumer
//   npm run chaos -- --seed 1234 ...               replay a run's schedule
import "./start/require-transform-types.ts";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { randomInt } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

const USAGE = `usage: npm run chaos -- [--orders N] [--seed S] [--duration S] [--replicas 1|2] [options]
  --orders N             orders placed, evenly over the run (default 300)
  --seed S               seed of the fault schedule and the order mix (default: random, printed)
  --duration S           seconds of orders and faults (default: orders / 6, at least 30)
  --replicas R           instances of every event-consuming service (default 1)
  --kills N              SIGKILLs of service instances (default: one per 6 s, at least 7: every kind once)
  --nats-restarts N      (default 1, one more per 150 s)
  --postgres-restarts N  (default 1, one more per 150 s)
  --customers N          (default 8)
  --settle S             seconds to wait for quiescence after the faults (default 180)
  --keep                 keep the data directory and the launcher's log even when every check passes`;

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

let values;
try {
  values = parseArgs({
    options: {
      orders: { type: "string" },
      seed: { type: "string" },
      duration: { type: "string" },
      replicas: { type: "string" },
      kills: { type: "string" },
      "nats-restarts": { type: "string" },
      "postgres-restarts": { type: "string" },
      customers: { type: "string" },
      settle: { type: "string" },
      keep: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  }).values;
} catch (error) {
  fail((error as Error).message);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (name: keyof typeof values, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) => {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max)
    fail(`--${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  return n;
};
const orders = int("orders", 300, 1, 100_000);
const seed = int("seed", randomInt(2 ** 31), 0, 2 ** 32 - 1);
const durationS = int("duration", Math.max(30, Math.round(orders / 6)), 5, 24 * 3600);
const replicas = int("replicas", 1, 1, 4);
const kills = int("kills", Math.max(7, Math.round(durationS / 6)), 0, 10_000);
const extraRestarts = Math.floor(durationS / 150);
const natsRestarts = int("nats-restarts", 1 + extraRestarts, 0, 1000);
const postgresRestarts = int("postgres-restarts", 1 + extraRestarts, 0, 1000);
const customers = int("customers", 8, 1, 100);
const settleS = int("settle", 180, 1, 3600);

const { runChaos } = await import("./chaos/run.ts");
const dataDir = mkdtempSync(path.join(os.tmpdir(), "shop-chaos-"));
// Running as root, Postgres runs as the "postgres" user, which must reach it.
chmodSync(dataDir, 0o755);
const replay = `npm run chaos -- --seed ${seed} --orders ${orders} --duration ${durationS} --replicas ${replicas}`;
console.log(`chaos: seed ${seed} (replay: ${replay})`);
const result = await runChaos({
  dataDir,
  seed,
  orders,
  durationMs: durationS * 1000,
  replicas,
  kills,
  natsRestarts,
  postgresRestarts,
  customers,
  settleMs: settleS * 1000,
  log: (line) => console.log(line),
});
if (result.failed === 0 && !values.keep) rmSync(dataDir, { recursive: true, force: true });
else console.log(`chaos: the launcher's log and the data are in ${dataDir}`);
console.log(`chaos: seed ${seed}, ${(result.elapsedMs / 1000).toFixed(0)} s`);
console.log(`${result.passed} passed, ${result.failed} failed`);
process.exit(result.failed === 0 ? 0 : 1);
