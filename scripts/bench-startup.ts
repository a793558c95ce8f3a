// `npm run bench:startup`: how long the system takes to become healthy and
// how much memory idle services hold, measured the way `npm start` runs it
// (same launcher modules), against the targets: all healthy in ≤ 10 s on two
// cores, ≤ 100 MB resident per idle service.
//
// Two runs in a fresh temporary data directory: a cold start (new Postgres
// cluster, empty Node code cache, every service bundle rebuilt: a first
// `npm start` after cloning) and a warm start (all reused: every later
// `npm start`). Ports are picked free, and DATABASE_URL/NATS_URL are ignored,
// so it runs beside a running `npm start` and never touches .data/ (it does
// rebuild services/*/dist, as `npm start` would). It is a benchmark, not a test: it
// exits 0 whatever the numbers, and 1 only if the system could not start.
import "./start/require-transform-types.ts";
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const IDLE_MS = 5_000;
const TARGET_HEALTHY_MS = 10_000;
const TARGET_RSS_MB = 100;

const { discoverManifests, portVariable } = await import("./start/services.ts");
const { planLaunch, startSystem } = await import("./start/system.ts");
const { freePorts } = await import("./start/ports.ts");
const { sleep } = await import("./start/child.ts");
const { LaunchError } = await import("./start/errors.ts");
type RunningSystem = import("./start/system.ts").RunningSystem;
// Node boot plus the launcher's modules: what `npm start` spends before starting anything.
const launcherLoadMs = performance.now();

interface Row {
  name: string;
  healthyMs?: number;
  rssMb?: number;
  infra?: boolean;
}
interface Run {
  label: string;
  totalMs: number;
  phases: string;
  rows: Row[];
}

/** Resident memory of one process (VmRSS), in MB; undefined off Linux. */
function rssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const root = mkdtempSync(path.join(os.tmpdir(), "shop-bench-"));
// When running as root, Postgres runs as "postgres" and must reach its data dir.
chmodSync(root, 0o755);
const logPath = path.join(root, "bench.log");
const log = openSync(logPath, "a");
const sink = { line: (source: string, text: string) => void writeSync(log, `${source.padEnd(12)} | ${text}\n`) };

const interrupted = new AbortController();
process.once("SIGINT", () => interrupted.abort(new Error("SIGINT")));
process.once("SIGTERM", () => interrupted.abort(new Error("SIGTERM")));

// Free ports for everything; no DATABASE_URL/NATS_URL: embedded Postgres and private NATS, as on a laptop.
const manifests = await discoverManifests();
const ports = await freePorts(manifests.length + 2);
const env: NodeJS.ProcessEnv = { ...process.env };
delete env.DATABASE_URL;
delete env.NATS_URL;
manifests.forEach((m, i) => (env[portVariable(m.name)] = String(ports[i])));
env.POSTGRES_PORT = String(ports[manifests.length]);
env.NATS_PORT = String(ports[manifests.length + 1]);

const cpus = os.availableParallelism();
console.log(
  `shop start-up benchmark: ${cpus} CPU${cpus === 1 ? "" : "s"}, Node ${process.versions.node}, data in ${root}`,
);
if (cpus > 2) console.log(`  (the targets are for 2 cores; to emulate them: taskset -c 0,1 npm run bench:startup)`);

const runs: Run[] = [];
let missing: string[] = [];
for (const label of ["cold start", "warm start"]) {
  process.stdout.write(`  ${label}: starting... `);
  let system: RunningSystem | undefined;
  try {
    // A first start after cloning also builds the bundles; later starts reuse them.
    const plan = await planLaunch({ env, dataDir: root, rebuildBundles: label === "cold start" });
    missing = plan.missing.map((s) => s.name);
    if (plan.services.length === 0) throw new LaunchError("no service has a src/main.ts yet: nothing to measure");
    const started = performance.now();
    system = await startSystem(plan, { sink, signal: interrupted.signal });
    const totalMs = performance.now() - started;
    process.stdout.write(`healthy in ${(totalMs / 1000).toFixed(1)} s; idling ${IDLE_MS / 1000} s... `);
    await sleep(IDLE_MS, interrupted.signal);
    const t = system.timings;
    const rows: Row[] = system.services.map((s) => ({
      name: s.name,
      healthyMs: s.healthyAfterMs,
      rssMb: rssMb(s.child.pid),
    }));
    rows.push({
      name: "postgres",
      healthyMs: t.postgresMs || undefined,
      rssMb: rssMb(system.postgres?.child?.pid),
      infra: true,
    });
    rows.push({
      name: "nats-server",
      healthyMs: t.natsMs || undefined,
      rssMb: rssMb(system.nats?.child?.pid),
      infra: true,
    });
    const initdb = system.postgres?.initialised ? " incl. creating the cluster" : "";
    runs.push({
      label,
      totalMs,
      rows,
      phases: `${t.bundlesBuilt > 0 ? `bundles built ${(t.bundlesMs / 1000).toFixed(1)} s (alongside Postgres and NATS), ` : ""}postgres ready ${(t.postgresMs / 1000).toFixed(1)} s${initdb}, nats ${(t.natsMs / 1000).toFixed(1)} s, databases ${((t.databasesMs - t.infraMs) / 1000).toFixed(1)} s, services ${((t.totalMs - t.databasesMs) / 1000).toFixed(1)} s`,
    });
    process.stdout.write("stopping... ");
    await system.stop();
    console.log("done");
  } catch (error) {
    await system?.stop();
    closeSync(log);
    if (interrupted.signal.aborted) {
      console.log("interrupted");
      rmSync(root, { recursive: true, force: true });
      process.exit(130);
    }
    console.log("FAILED\n");
    console.error(error instanceof Error ? error.message : String(error));
    const tail = readFileSync(logPath, "utf8").trimEnd().split("\n").slice(-40).join("\n");
    console.error(`\nlast lines of the log (full log: ${logPath}):\n${tail}`);
    process.exit(1);
  }
}
closeSync(log);
rmSync(root, { recursive: true, force: true });

// The table: one column pair per run.
const fmtS = (ms: number | undefined) => (ms === undefined || Number.isNaN(ms) ? "-" : `${(ms / 1000).toFixed(1)} s`);
const fmtMb = (mb: number | undefined, infra?: boolean) =>
  mb === undefined ? "n/a" : `${Math.round(mb)} MB${infra ? "" : mb <= TARGET_RSS_MB ? " ✔" : " ✘"}`;
const names = runs[0].rows.map((r) => r.name);
const header = ["", ...runs.flatMap((r) => [`${r.label}: healthy at`, "idle RSS"])];
const body = names.map((name) => {
  const infra = runs[0].rows.find((r) => r.name === name)?.infra ?? false;
  return [
    infra ? `${name} (infra)` : name,
    ...runs.flatMap((run) => {
      const row = run.rows.find((r) => r.name === name);
      return [fmtS(row?.healthyMs), fmtMb(row?.rssMb, infra)];
    }),
  ];
});
const total = [
  "all healthy",
  ...runs.flatMap((r) => [`${fmtS(r.totalMs)} ${r.totalMs <= TARGET_HEALTHY_MS ? "✔" : "✘"}`, ""]),
];
const table = [header, ...body, total];
const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)));
const print = (row: string[]) =>
  console.log(
    "  " +
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join("   ")
        .trimEnd(),
  );
console.log("");
print(header);
print(widths.map((w) => "-".repeat(w)));
body.forEach(print);
print(widths.map((w) => "-".repeat(w)));
print(total);
console.log("");
for (const run of runs) console.log(`  ${run.label}: ${run.phases}`);
console.log(
  `  "healthy at" counts from the launcher starting Postgres; npm start adds ~${(launcherLoadMs / 1000).toFixed(1)} s for loading the launcher itself.`,
);
console.log(
  `  targets: all services healthy in ≤ ${TARGET_HEALTHY_MS / 1000} s on 2 cores; each idle service ≤ ${TARGET_RSS_MB} MB resident (VmRSS after ${IDLE_MS / 1000} s idle). Infra has no target.`,
);
if (missing.length > 0) console.log(`  not measured (no src/main.ts yet): ${missing.join(", ")}`);
process.exit(0);
