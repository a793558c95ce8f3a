// `npm run bench:rpc`: what one hop costs. Interleaved in one session
// (services as `npm start` runs them, on free ports, own Postgres and NATS):
//
//   runtime   catalog GetProduct through the shop's runtime (interceptors,
//             validation, auth, telemetry, access log)
//   raw       a bare connect-node server of the same generated service, constant
//             answer (run with the services' Node flags, as all below)
//   raw-db    the same bare server doing the catalog's SELECT (drizzle, same database)
//   gateway   StorefrontService.GetProduct through a gateway without its
//             catalog read cache (CATALOG_CACHE_ENTRIES=0): the hop itself
//   gateway-cached  the same through the gateway as `npm start` runs it, its
//             catalog answer from the read cache (stock still asked of
//             inventory on every call)
//   direct    the calls the uncached gateway makes for it, from the client, as
//             it makes them: catalog GetProduct and inventory BatchGetStock at once
//
// Each is called by 16 concurrent callers over one HTTP/2 connection for
// 4 s, two rounds, interleaved; server CPU per call is read from /proc. A
// table of the medians, then the line
// `rpc: runtime/raw <r1>, runtime/raw-db <r2>, gateway/direct <r3>` (the
// uncached gateway: the cached one makes fewer calls than `direct`).
// A benchmark, not a test: exits 0 whatever the figures.
import "./start/require-transform-types.ts";
import { fork, type ChildProcess } from "node:child_process";
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { Http2Clients } from "./load/http2-clients.ts";
import { SERVICE_NODE_FLAGS } from "../services/runtime/src/manifest.ts";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { StorefrontService } from "@shop/gen/shop/storefront/v1/storefront_pb";

const { childEnv, discoverManifests, portVariable, REPO_ROOT } = await import("./start/services.ts");
const { planLaunch, startSystem } = await import("./start/system.ts");
const { freePorts } = await import("./start/ports.ts");

const CALLERS = 16;
const SECONDS = 4;
const ROUNDS = 2;

const root = mkdtempSync(path.join(os.tmpdir(), "shop-bench-rpc-"));
// When running as root, Postgres runs as "postgres" and must reach its data dir.
chmodSync(root, 0o755);
const log = openSync(path.join(root, "bench.log"), "a");
const sink = { line: (source: string, text: string) => void writeSync(log, `${source.padEnd(12)} | ${text}\n`) };
const manifests = await discoverManifests();
const ports = await freePorts(manifests.length + 5);
const env: NodeJS.ProcessEnv = { ...process.env, METRICS_PORT: "0" };
delete env.DATABASE_URL;
delete env.NATS_URL;
manifests.forEach((m, i) => (env[portVariable(m.name)] = String(ports[i])));
env.POSTGRES_PORT = String(ports[manifests.length]);
env.NATS_PORT = String(ports[manifests.length + 1]);
const rawPort = ports[manifests.length + 2];
const rawDbPort = ports[manifests.length + 3];
const uncachedGatewayPort = ports[manifests.length + 4];
const url = (port: string | number | undefined) => `http://127.0.0.1:${String(port)}`;

console.log(`rpc benchmark: ${String(os.availableParallelism())} CPUs, Node ${process.versions.node}`);
const plan = await planLaunch({ env, dataDir: root });
const system = await startSystem(plan, { sink });
const bare: ChildProcess[] = [];
const clients = new Http2Clients();
try {
  const serverUrl = new URL(system.postgres?.serverUrl ?? "");
  serverUrl.pathname = "/shop_catalog";
  const startBare = async (port: number, mode: string) => {
    // With the services' Node flags (young generation, heap cap): the same GC
    // on both sides, so the ratio measures the runtime, not V8's settings.
    const child = fork(
      path.join(REPO_ROOT, "scripts", "bench-rpc", "bare-catalog-server.ts"),
      [String(port), mode, serverUrl.toString()],
      { execArgv: [...process.execArgv, ...SERVICE_NODE_FLAGS] },
    );
    bare.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => {
        resolve();
      });
      child.once("exit", (code) => {
        reject(new Error(`bare ${mode} server exited (${String(code)})`));
      });
    });
    return child;
  };
  const raw = await startBare(rawPort, "constant");
  const rawDb = await startBare(rawDbPort, "db");
  // A second gateway, as the launcher runs the first, with its read cache off.
  const gatewayPlan = plan.services.find((s) => s.name === "gateway");
  if (!gatewayPlan || !system.nats || !system.postgres) throw new Error("the launcher started no gateway");
  const uncachedGateway = fork(gatewayPlan.main, [], {
    execArgv: [...SERVICE_NODE_FLAGS],
    cwd: REPO_ROOT,
    stdio: ["ignore", log, log, "ipc"],
    env: {
      ...childEnv(gatewayPlan.manifest, {
        ports: plan.ports,
        databaseServerUrl: system.postgres.serverUrl,
        natsUrl: system.nats.url,
        env: plan.env,
      }),
      PORT: String(uncachedGatewayPort),
      METRICS_PORT: "0",
      CATALOG_CACHE_ENTRIES: "0",
    },
  });
  bare.push(uncachedGateway);

  const client = <S extends DescService>(service: S, baseUrl: string): Client<S> => clients.client(service, baseUrl);
  const catalog = client(CatalogService, url(env.CATALOG_PORT));
  const inventory = client(InventoryService, url(env.INVENTORY_PORT));
  const rawCatalog = client(CatalogService, url(rawPort));
  const rawDbCatalog = client(CatalogService, url(rawDbPort));
  const storefront = client(StorefrontService, url(env.GATEWAY_PORT));
  const uncachedStorefront = client(StorefrontService, url(uncachedGatewayPort));
  for (let tries = 0; ; tries++) {
    try {
      await uncachedStorefront.listCategories({});
      break;
    } catch (error) {
      if (tries > 300 || uncachedGateway.exitCode !== null) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const productId = (await catalog.listProducts({ pageSize: 1 })).products[0]?.id;
  if (!productId) throw new Error("the catalogue is empty");

  const pidOf = (name: string) => system.services.find((s) => s.name === name)?.child.pid;
  const ticks = 100;
  const cpuOf = (pids: (number | undefined)[]) =>
    pids.reduce((sum: number, pid) => {
      if (pid === undefined) return sum;
      const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return sum + (Number(f[11]) + Number(f[12])) / ticks;
    }, 0);

  const variants: { name: string; call: () => Promise<unknown>; servers: (number | undefined)[] }[] = [
    { name: "runtime", call: () => catalog.getProduct({ productId }), servers: [pidOf("catalog")] },
    { name: "raw", call: () => rawCatalog.getProduct({ productId }), servers: [raw.pid] },
    { name: "raw-db", call: () => rawDbCatalog.getProduct({ productId }), servers: [rawDb.pid] },
    {
      name: "gateway",
      call: () => uncachedStorefront.getProduct({ productId }),
      servers: [uncachedGateway.pid, pidOf("catalog"), pidOf("inventory")],
    },
    {
      name: "gateway-cached",
      call: () => storefront.getProduct({ productId }),
      servers: [pidOf("gateway"), pidOf("catalog"), pidOf("inventory")],
    },
    {
      name: "direct",
      call: () =>
        Promise.all([catalog.getProduct({ productId }), inventory.batchGetStock({ productIds: [productId] })]),
      servers: [pidOf("catalog"), pidOf("inventory")],
    },
  ];
  const rps: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
  const cpuPerCall: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (const v of variants) for (let i = 0; i < 200; i++) await v.call(); // warm-up
  for (let round = 1; round <= ROUNDS; round++) {
    for (const v of variants) {
      let calls = 0;
      const cpu0 = cpuOf(v.servers);
      const end = performance.now() + SECONDS * 1000;
      await Promise.all(
        Array.from({ length: CALLERS }, async () => {
          while (performance.now() < end) {
            await v.call();
            calls++;
          }
        }),
      );
      const cpuMs = (cpuOf(v.servers) - cpu0) * 1000;
      rps[v.name].push(calls / SECONDS);
      cpuPerCall[v.name].push(cpuMs / calls);
      console.log(
        `round ${String(round)}  ${v.name.padEnd(14)} ${(calls / SECONDS).toFixed(0).padStart(6)} calls/s  ` +
          `server CPU ${(cpuMs / calls).toFixed(2)} ms/call  load ${os.loadavg()[0].toFixed(1)}`,
      );
    }
  }
  const median = (xs: number[] = []) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length / 2;
    return sorted.length % 2 ? (sorted[Math.floor(mid)] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  };
  const ratio = (a: string, b: string) => (median(rps[a]) / median(rps[b])).toFixed(2);
  console.log(`\n${"variant".padEnd(14)} ${"calls/s".padStart(8)}  server CPU ms/call  (medians)`);
  for (const v of variants) {
    console.log(
      `${v.name.padEnd(14)} ${median(rps[v.name]).toFixed(0).padStart(8)}  ${median(cpuPerCall[v.name]).toFixed(2).padStart(18)}`,
    );
  }
  console.log(`gateway-cached/gateway ${ratio("gateway-cached", "gateway")}, load ${os.loadavg()[0].toFixed(1)}`);
  console.log(
    `\nrpc: runtime/raw ${ratio("runtime", "raw")}, runtime/raw-db ${ratio("runtime", "raw-db")}, gateway/direct ${ratio("gateway", "direct")}`,
  );
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
} finally {
  clients.close();
  for (const child of bare) child.kill();
  await system.stop();
  closeSync(log);
  rmSync(root, { recursive: true, force: true });
}
