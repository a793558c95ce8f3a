// `npm run bench:orders`: how many orders per second the shop confirms, set
// beside what its database could do, and what happens past saturation. One
// bounded run (about 4 minutes), everything interleaved in one session
// against one private Postgres (embedded) and NATS, services as `npm start`
// runs them, on free ports (so it runs beside a running `npm start`):
//
// (a) the storage bound: each service's per-order database work as a
//     pgbench script (scripts/bench-orders/*.sql, the saga's statements as
//     it runs them, against databases made by the services' own
//     migrations), each run alone at full concurrency; the bound is the
//     orders/s Postgres could do if it did nothing else: 1 / Σ (1 / tps_i).
//     Measured three times between the other steps; the median counts.
// (b) max confirmed orders/s: closed loop straight to the order service,
//     4, 8, 16, 32... clients until throughput stops rising.
// (c) open loop at 1.5× and 2× that max: confirmed/s, p99, refusals.
//
// Also CPU per confirmed order (summed over the services, Postgres and NATS)
// and Postgres commits per order and per idle second, per database. It is a
// benchmark, not a test: it exits 0 whatever the figures, 1 if it could not run.
import "./start/require-transform-types.ts";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import type { ScriptedService } from "./bench-orders/pgbench-scripts.ts";

const { discoverManifests, portVariable, REPO_ROOT } = await import("./start/services.ts");
const { planLaunch, startSystem } = await import("./start/system.ts");
const { freePorts } = await import("./start/ports.ts");
const { migrate } = await import("@shop/runtime/db/migrate");
const { prepareLoad, runLoad } = await import("./load/load-run.ts");
const { shopTarget } = await import("./load/shop-target.ts");
const { pgbenchScript, READERS, WRITERS } = await import("./bench-orders/pgbench-scripts.ts");
type LoadSummary = import("./load/load-run.ts").LoadSummary;

const PGBENCH_SECONDS = 4;
const PGBENCH_CLIENTS = 8;
const STEP_SECONDS = 10;

function pgbenchBinary(): string {
  const found = spawnSync("sh", ["-c", "command -v pgbench"], { encoding: "utf8" }).stdout.trim();
  if (!found) {
    console.error("bench:orders needs pgbench (Debian: it comes with the server package, apt-get install postgresql)");
    process.exit(1);
  }
  return found;
}
const pgbench = pgbenchBinary();

const root = mkdtempSync(path.join(os.tmpdir(), "shop-bench-orders-"));
chmodSync(root, 0o755);
const logPath = path.join(root, "bench.log");
const log = openSync(logPath, "a");
const sink = { line: (source: string, text: string) => void writeSync(log, `${source.padEnd(12)} | ${text}\n`) };

const manifests = await discoverManifests();
const ports = await freePorts(manifests.length + 2);
const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: "warn", METRICS_PORT: "0" };
delete env.DATABASE_URL;
delete env.NATS_URL;
manifests.forEach((m, i) => (env[portVariable(m.name)] = String(ports[i])));
env.POSTGRES_PORT = String(ports[manifests.length]);
env.NATS_PORT = String(ports[manifests.length + 1]);
const portOf = (name: string) => env[portVariable(name)] ?? "";

console.log(
  `orders benchmark: ${String(os.availableParallelism())} CPUs, Node ${process.versions.node}, data in ${root}`,
);
const plan = await planLaunch({ env, dataDir: root });
const system = await startSystem(plan, { sink });
const serverUrl = system.postgres?.serverUrl;
if (!serverUrl) throw new Error("no embedded Postgres");
const dbUrl = (database: string) => {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
};
const admin = postgres(dbUrl("postgres"), { max: 1, onnotice: () => {} });

try {
  // --- fixtures: the products and a customer the read-only scripts look up, fresh databases for the writers
  const target = shopTarget("order", {
    gateway: `http://127.0.0.1:${portOf("gateway")}`,
    identity: `http://127.0.0.1:${portOf("identity")}`,
    catalog: `http://127.0.0.1:${portOf("catalog")}`,
    inventory: `http://127.0.0.1:${portOf("inventory")}`,
    order: `http://127.0.0.1:${portOf("order")}`,
    payment: `http://127.0.0.1:${portOf("payment")}`,
  });
  const adminAccount = { email: "admin@shop.local", password: "admin-password" };
  const fixtures = await prepareLoad(target, { customers: 16, products: 20, admin: adminAccount });
  const identityDb = postgres(dbUrl("shop_identity"), { max: 1 });
  const someUser = (await identityDb<{ id: string }[]>`select id from users limit 1`).at(0);
  await identityDb.end();
  if (!someUser) throw new Error("identity has no user to look up");
  const userId = someUser.id;
  for (const service of WRITERS) {
    const database = `bench_${service}`;
    await admin.unsafe(`drop database if exists ${database}`);
    await admin.unsafe(`create database ${database}`);
    await migrate(dbUrl(database), path.join(REPO_ROOT, "services", service, "drizzle"));
  }
  {
    const inventory = postgres(dbUrl("bench_inventory"), { max: 1 });
    for (const id of fixtures.products)
      await inventory`insert into stock (product_id, available) values (${id}, 1000000000)`;
    await inventory.end();
  }
  const scriptFile = (service: ScriptedService) => {
    const text = pgbenchScript(service, { productIds: fixtures.products, userId });
    const file = path.join(root, `${service}.sql`);
    writeSync(openSync(file, "w"), text);
    return file;
  };
  const scripts = Object.fromEntries([...WRITERS, ...READERS].map((s) => [s, scriptFile(s)]));
  const scriptDatabase = (service: string) =>
    (WRITERS as readonly string[]).includes(service) ? `bench_${service}` : `shop_${service}`;

  const pg = new URL(serverUrl);
  const storageBound = (): { bound: number; perService: Record<string, number> } => {
    const perService: Record<string, number> = {};
    for (const service of Object.keys(scripts)) {
      const out = execFileSync(
        pgbench,
        [
          "-n",
          "-M",
          "prepared",
          "-f",
          scripts[service],
          "-c",
          String(PGBENCH_CLIENTS),
          "-j",
          "2",
          "-T",
          String(PGBENCH_SECONDS),
          "-h",
          pg.hostname,
          "-p",
          pg.port,
          "-U",
          decodeURIComponent(pg.username),
          scriptDatabase(service),
        ],
        { encoding: "utf8", env: { ...process.env, PGPASSWORD: decodeURIComponent(pg.password) } },
      );
      const tps = /tps = ([\d.]+)/.exec(out)?.[1];
      if (!tps) throw new Error(`pgbench ${service}: no tps in its output:\n${out}`);
      perService[service] = Number(tps);
    }
    const bound = 1 / Object.values(perService).reduce((sum, tps) => sum + 1 / tps, 0);
    return { bound, perService };
  };

  // --- CPU (utime + stime of every process of the system) and commits per database
  const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  const cpuSeconds = (): Record<string, number> => {
    const parent = new Map<number, number>();
    const cpu = new Map<number, number>();
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        parent.set(Number(entry), Number(fields[1]));
        cpu.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / ticks);
      } catch {
        // gone meanwhile
      }
    }
    const names = new Map<number, string>();
    system.services.forEach((s) => s.child.pid && names.set(s.child.pid, s.name));
    if (system.postgres?.child?.pid) names.set(system.postgres.child.pid, "postgres");
    if (system.nats?.child?.pid) names.set(system.nats.child.pid, "nats");
    const totals: Record<string, number> = {};
    for (const [pid, seconds] of cpu) {
      let p: number | undefined = pid;
      while (p && !names.has(p)) p = parent.get(p);
      const name = p === undefined ? undefined : names.get(p);
      if (name) totals[name] = (totals[name] ?? 0) + seconds;
    }
    return totals;
  };
  const commits = async (): Promise<Record<string, number>> => {
    const rows =
      await admin`select datname, xact_commit::float8 as n from pg_stat_database where datname like 'shop_%'`;
    return Object.fromEntries(rows.map((r) => [String(r.datname).slice(5), Number(r.n)]));
  };
  const diff = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries(Object.keys(b).map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0)]));
  const load = () => os.loadavg()[0].toFixed(1);

  // --- idle commits. Backends report their statistics when idle at most every
  // 10 s (PGSTAT_IDLE_INTERVAL), so the set-up's commits need that long to show.
  await new Promise((r) => setTimeout(r, 11_000));
  const idleFrom = await commits();
  await new Promise((r) => setTimeout(r, 11_000));
  const idleCommits = diff(idleFrom, await commits());
  console.log(
    `idle 11 s, commits per database: ${Object.entries(idleCommits)
      .map(([k, v]) => `${k} ${String(v)}`)
      .join(", ")}`,
  );

  const bounds: number[] = [];
  const measureBound = () => {
    const { bound, perService } = storageBound();
    bounds.push(bound);
    console.log(
      `storage bound: ${bound.toFixed(0)} orders/s (pgbench tps ${Object.entries(perService)
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(", ")}; load ${load()})`,
    );
  };
  const step = async (options: { clients?: number; rate?: number }): Promise<LoadSummary> => {
    const cpu0 = cpuSeconds();
    const commits0 = await commits();
    const summary = await runLoad(
      target,
      {
        ...options,
        durationMs: STEP_SECONDS * 1000,
        warmupMs: 2000,
        customers: 16,
        products: 20,
        drainMs: 30_000,
        maxInFlight: 5000,
        admin: adminAccount,
      },
      fixtures,
    );
    const cpu = diff(cpu0, cpuSeconds());
    const committed = diff(commits0, await commits());
    const perOrder = (n: number) => (summary.confirmed > 0 ? n / (summary.confirmed + summary.cancelledTotal) : 0);
    const cpuMs = Object.values(cpu).reduce((a, b) => a + b, 0) * 1000;
    console.log(
      (options.clients ? `closed ${String(options.clients)} clients` : `open ${String(options.rate)}/s`).padEnd(18) +
        `confirmed ${summary.confirmedPerSecond.toFixed(1).padStart(6)}/s  refused ${String(summary.refused).padStart(5)}  ` +
        `place p99 ${summary.placeMs.p99.toFixed(0).padStart(5)} ms  place→CONFIRMED p50 ${summary.placeToConfirmedMs.p50.toFixed(0)} p99 ${summary.placeToConfirmedMs.p99.toFixed(0).padStart(5)} ms  ` +
        `max in flight ${String(summary.maxInFlight)}  unfinished ${String(summary.unfinished)}  load ${load()}`,
    );
    console.log(
      `${"".padEnd(18)}CPU per order ${perOrder(cpuMs).toFixed(1)} ms (${Object.entries(cpu)
        .map(([k, v]) => `${k} ${perOrder(v * 1000).toFixed(1)}`)
        .join(", ")}); commits per order: ${Object.entries(committed)
        .map(([k, v]) => `${k} ${perOrder(v).toFixed(1)}`)
        .join(", ")}`,
    );
    return summary;
  };

  measureBound();
  let best: LoadSummary | undefined;
  for (const clients of [4, 8, 16, 32, 64]) {
    const s = await step({ clients });
    if (best && s.confirmedPerSecond < best.confirmedPerSecond * 1.05) {
      if (s.confirmedPerSecond > best.confirmedPerSecond) best = s;
      break;
    }
    best = s;
  }
  measureBound();
  const max = best?.confirmedPerSecond ?? 0;
  await step({ rate: Math.max(1, Math.round(max * 1.5)) });
  const twice = await step({ rate: Math.max(1, Math.round(max * 2)) });
  measureBound();

  const bound = bounds.sort((a, b) => a - b)[Math.floor(bounds.length / 2)];
  console.log(
    `\norders: ${max.toFixed(1)} confirmed/s, bound ${bound.toFixed(0)}/s, ratio ${(max / bound).toFixed(2)}; ` +
      `at 2x offered load: ${twice.confirmedPerSecond.toFixed(1)} confirmed/s (${(max > 0 ? twice.confirmedPerSecond / max : 0).toFixed(2)})`,
  );
  target.close();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
} finally {
  await admin.end({ timeout: 2 }).catch(() => {});
  await system.stop();
  closeSync(log);
  if (process.exitCode) console.error(`log: ${logPath}`);
  else rmSync(root, { recursive: true, force: true });
}
