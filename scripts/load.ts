// `npm run load`: puts the shop under load and shows what it does, next to a
// running `npm start` (or any shop reachable at the addresses below).
//
//   npm run load -- --clients 16 --duration 30     closed loop: 16 customers, each one order at a time
//   npm run load -- --rate 40 --duration 30        open loop: 40 orders/s whatever the shop answers
//   npm run load -- --target order ...             straight to the order service (no gateway)
//
// Customers sign up, tokenize the approved test card and place one-line
// orders for the first --products products of the catalogue (restocked first
// as the admin, ADMIN_EMAIL / ADMIN_PASSWORD, `npm start`'s by default), and
// follow each order with WatchOrder to CONFIRMED or CANCELLED. Addresses:
// <NAME>_ADDR (e.g. GATEWAY_ADDR=http://127.0.0.1:8080), else 127.0.0.1 on
// <NAME>_PORT or `npm start`'s default port. Live stats are redrawn in place
// on a terminal and printed as plain lines otherwise; the summary is printed
// as a table and written as JSON (--out, default .data/load/<time>.json).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { runLoad, type LiveStats } from "./load/load-run.ts";
import { summaryTable } from "./load/summary-table.ts";
import { shopAddresses, shopTarget } from "./load/shop-target.ts";

const USAGE = `usage: npm run load -- [--clients N | --rate R] [--duration S] [--target gateway|order]
  --clients N     closed loop with N clients (default 16)
  --rate R        open loop, R orders per second
  --duration S    seconds of load (default 30), after --warmup S (default 2)
  --target T      gateway (default: the public StorefrontService) or order (the order service directly)
  --customers N   customers signed up beforehand (default 16)
  --products N    products ordered from (default 20)
  --out FILE      where the JSON summary goes (default .data/load/load-<time>.json)`;

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number (got ${JSON.stringify(value)})\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

let args;
try {
  args = parseArgs({
    options: {
      clients: { type: "string" },
      rate: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      target: { type: "string", default: "gateway" },
      customers: { type: "string" },
      products: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  }).values;
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
if (args.target !== "gateway" && args.target !== "order") {
  console.error(`--target must be gateway or order (got ${JSON.stringify(args.target)})\n${USAGE}`);
  process.exit(2);
}
if (args.clients !== undefined && args.rate !== undefined) {
  console.error(`give --clients (closed loop) or --rate (open loop), not both\n${USAGE}`);
  process.exit(2);
}
const rate = args.rate === undefined ? undefined : positive("rate", args.rate, 1);
const clients = rate === undefined ? Math.round(positive("clients", args.clients, 16)) : undefined;
const durationMs = positive("duration", args.duration, 30) * 1000;
const warmupMs = args.warmup === "0" ? 0 : positive("warmup", args.warmup, 2) * 1000;

const addresses = shopAddresses(process.env);
const targetName = args.target;
const target = shopTarget(targetName, addresses);
const tty = process.stdout.isTTY;
let drawn = 0;

function liveLines(s: LiveStats): string[] {
  const errors = Object.entries(s.errors)
    .map(([code, n]) => `${code} ${String(n)}`)
    .join(", ");
  return [
    `${(s.elapsedMs / 1000).toFixed(0).padStart(4)} s  ${s.phase.padEnd(9)}  placed ${s.placedPerSecond.toFixed(1).padStart(6)}/s  confirmed ${s.confirmedPerSecond.toFixed(1).padStart(6)}/s  in flight ${String(s.inFlight).padStart(5)}`,
    `        place p50 ${ms(s.placeP50Ms)} p99 ${ms(s.placeP99Ms)}   place→CONFIRMED p50 ${ms(s.confirmP50Ms)} p99 ${ms(s.confirmP99Ms)}   errors: ${errors || "none"}`,
  ];
}

function ms(value: number): string {
  return `${value.toFixed(0).padStart(5)} ms`;
}

function draw(s: LiveStats): void {
  const lines = liveLines(s);
  if (tty) {
    // Back to the first line drawn last time, then overwrite (clearing each line).
    if (drawn > 0) process.stdout.write(`\x1b[${String(drawn)}A`);
    process.stdout.write(lines.map((l) => `\r\x1b[2K${l}`).join("\n") + "\n");
    drawn = lines.length;
  } else {
    console.log(lines.join("  |  "));
  }
}

console.log(
  `load: ${rate ? `${String(rate)} orders/s (open loop)` : `${String(clients)} clients (closed loop)`} for ${String(durationMs / 1000)} s ` +
    `against ${targetName === "gateway" ? addresses.gateway : addresses.order} (${targetName})`,
);
try {
  const summary = await runLoad(target, {
    ...(rate ? { rate } : { clients: clients ?? 16 }),
    durationMs,
    warmupMs,
    customers: Math.round(positive("customers", args.customers, 16)),
    products: Math.round(positive("products", args.products, 20)),
    drainMs: 60_000,
    maxInFlight: 5000,
    admin: {
      email: process.env.ADMIN_EMAIL ?? "admin@shop.local",
      password: process.env.ADMIN_PASSWORD ?? "admin-password",
    },
    onTick: draw,
    onNote: (text) => {
      console.log(`note: ${text}`);
    },
  });
  const out = args.out ?? path.join(".data", "load", `load-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), addresses, ...summary }, null, 2) + "\n");
  console.log(`\n${summaryTable(summary)}\n\nsummary written to ${out}`);
} catch (err) {
  console.error(
    `load: ${(err as Error).message}\nIs the shop running (npm start)? Addresses: gateway ${addresses.gateway}, order ${addresses.order}.`,
  );
  process.exitCode = 1;
} finally {
  target.close();
}
