// The launcher's pieces that need no real services: URL and environment
// derivation from the manifests, planning, health polling, child stop, and
// the clear failure when NATS is unavailable, the pid file of an earlier run.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createHealthService, Health, HealthRegistry, ServingStatus } from "@shop/runtime/health";
import { addressVariable, type ServiceManifest } from "@shop/runtime/manifest";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Child } from "./child.ts";
import { LaunchError } from "./errors.ts";
import { HealthTimeoutError, waitForHealthy } from "./health.ts";
import { findOnPath } from "./nats.ts";
import { formatLine, type LogSink } from "./output.ts";
import { freePort, isPortFree } from "./ports.ts";
import { childEnv, discoverManifests, REPO_ROOT, resolvePorts, serviceDatabaseUrl, startWaves } from "./services.ts";
import { describeProcess, listProcesses, pidFilePath, type ProcessEntry } from "./pid-file.ts";
import { cpuProfileFlags, planLaunch } from "./system.ts";

const NODE = process.execPath;
const FLAGS = ["--experimental-transform-types", "--disable-warning=ExperimentalWarning"];
const silent: LogSink = { line() {} };

let manifests: ServiceManifest[];
const byName = (name: string) => manifests.find((m) => m.name === name)!;
beforeAll(async () => {
  manifests = await discoverManifests();
});

describe("per-service DATABASE_URL", () => {
  it("replaces the database name and keeps everything else", () => {
    expect(serviceDatabaseUrl("postgres://shop:shop@127.0.0.1:54329/postgres", "order")).toBe(
      "postgres://shop:shop@127.0.0.1:54329/shop_order",
    );
    expect(serviceDatabaseUrl("postgresql://app:p%40ss@db.internal:6432/app?sslmode=require", "catalog")).toBe(
      "postgresql://app:p%40ss@db.internal:6432/shop_catalog?sslmode=require",
    );
  });

  it("adds the database when the URL names none", () => {
    expect(serviceDatabaseUrl("postgres://me@localhost:5432", "identity")).toBe(
      "postgres://me@localhost:5432/shop_identity",
    );
  });

  it("rejects a URL that is not postgres://, naming DATABASE_URL and hiding the password", () => {
    expect(() => serviceDatabaseUrl("mysql://root:secret@db/app", "order")).toThrow(LaunchError);
    expect(() => serviceDatabaseUrl("mysql://root:secret@db/app", "order")).toThrow(/DATABASE_URL.*\*\*\*/);
  });
});

describe("SHOP_CPU_PROF", () => {
  it("adds no flag when unset or blank", () => {
    expect(cpuProfileFlags({}, "order")).toEqual([]);
    expect(cpuProfileFlags({ SHOP_CPU_PROF: " " }, "order")).toEqual([]);
  });

  it("makes each instance write a CPU profile into <dir>/<instance> when it exits", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "shop-cpu-prof-"));
    try {
      const flags = cpuProfileFlags({ SHOP_CPU_PROF: dir }, "order-2");
      const run = spawnSync(process.execPath, [...flags, "-e", "let n = 0; for (let i = 0; i < 1e6; i++) n += i;"], {
        encoding: "utf8",
      });
      expect(run.status).toBe(0);
      const files = readdirSync(path.join(dir, "order-2"));
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/\.cpuprofile$/);
      const profile = JSON.parse(readFileSync(path.join(dir, "order-2", files[0]), "utf8")) as { nodes: unknown[] };
      expect(profile.nodes.length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("manifests and ports", () => {
  it("finds every deployable (not the runtime), leaves first", () => {
    const names = manifests.map((m) => m.name);
    expect(names.sort()).toEqual(["catalog", "gateway", "identity", "inventory", "notification", "order", "payment"]);
    expect(manifests.map((m) => m.name)[0]).toBe("identity");
  });

  it("uses manifest ports unless <NAME>_PORT is set", () => {
    const ports = resolvePorts(manifests, { ORDER_PORT: "6000" });
    expect(ports.get("order")).toBe(6000);
    expect(ports.get("gateway")).toBe(8080);
    expect(ports.get("identity")).toBe(7001);
  });

  it("names the variable when a port is invalid or two services clash", () => {
    expect(() => resolvePorts(manifests, { GATEWAY_PORT: "http" })).toThrow(/GATEWAY_PORT must be an integer/);
    expect(() => resolvePorts(manifests, { GATEWAY_PORT: "70000" })).toThrow(/GATEWAY_PORT/);
    expect(() => resolvePorts(manifests, { ORDER_PORT: "7001" })).toThrow(/order and identity .* port 7001/);
  });

  it("hands out free ports below the range outgoing connections take their local ports from", async () => {
    const [ephemeralLow] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(1024);
      expect(port).toBeLessThan(ephemeralLow);
    }
    // freePort returns only ports isPortFree accepts, and a bound one it refuses.
    const server = http2.createServer();
    await new Promise<void>((resolve) => server.listen(ports[0], "127.0.0.1", resolve));
    try {
      expect(await isPortFree(ports[0])).toBe(false);
    } finally {
      server.close();
    }
  });

  it("starts every service at once", () => {
    const waves = startWaves(manifests.map((manifest) => ({ manifest })));
    expect(waves).toHaveLength(1);
    expect(waves[0].map((s) => s.manifest.name).sort()).toEqual([
      "catalog",
      "gateway",
      "identity",
      "inventory",
      "notification",
      "order",
      "payment",
    ]);
    expect(startWaves([])).toEqual([]);
  });
});

describe("each child's environment", () => {
  const base = {
    databaseServerUrl: "postgres://shop:shop@127.0.0.1:54329/postgres",
    natsUrl: "nats://127.0.0.1:42229",
  };

  it("gives a service its port, database, NATS and an address for every dependency", () => {
    const userEnv = {
      CATALOG_PORT: "6001",
      FOO: "bar",
      DATABASE_URL: "postgres://ignored@x/y",
      PORT: "1",
      HOST: "0.0.0.0",
    };
    const env = childEnv(byName("order"), { ...base, ports: resolvePorts(manifests, userEnv), env: userEnv });
    expect(env).toMatchObject({
      PORT: "7004",
      HOST: "127.0.0.1",
      DATABASE_URL: "postgres://shop:shop@127.0.0.1:54329/shop_order",
      NATS_URL: "nats://127.0.0.1:42229",
      LOG_LEVEL: "info",
      IDENTITY_ADDR: "http://127.0.0.1:7001",
      CATALOG_ADDR: "http://127.0.0.1:6001",
      FOO: "bar",
    });
    expect(
      Object.keys(env)
        .filter((k) => k.endsWith("_ADDR"))
        .sort(),
    ).toEqual(["CATALOG_ADDR", "IDENTITY_ADDR"]);
  });

  it("declares <DEP>_ADDR for exactly the manifest's dependencies, and no database for the gateway", () => {
    const ports = resolvePorts(manifests, {});
    for (const manifest of manifests) {
      const env = childEnv(manifest, {
        ...base,
        ports,
        env: { LOG_LEVEL: "debug", DATABASE_URL: "postgres://u@h/db" },
      });
      const addresses = Object.keys(env)
        .filter((k) => k.endsWith("_ADDR"))
        .sort();
      expect(addresses).toEqual(Object.keys(manifest.dependsOn).map(addressVariable).sort());
      for (const dep of Object.keys(manifest.dependsOn)) {
        expect(env[addressVariable(dep)]).toBe(`http://127.0.0.1:${ports.get(dep)}`);
      }
      expect(env.DATABASE_URL).toBe(
        manifest.database ? `postgres://shop:shop@127.0.0.1:54329/shop_${manifest.name}` : undefined,
      );
      expect(env.LOG_LEVEL).toBe("debug");
    }
    expect(byName("gateway").database).toBe(false);
  });
});

describe("planning", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "shop-launcher-test-"));
    mkdirSync(path.join(dir, "identity"));
    writeFileSync(path.join(dir, "identity", "main.ts"), "");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("launches only services whose main.ts exists and reports the others", async () => {
    const plan = await planLaunch({
      env: {
        NATS_URL: "nats://127.0.0.1:4222",
        DATABASE_URL: "postgres://me@127.0.0.1:5432/app",
        IDENTITY_PORT: String(await freePort()),
      },
      dataDir: path.join(dir, "data"),
      mainFile: (name) => path.join(dir, name, "main.ts"),
    });
    expect(plan.services.map((s) => s.name)).toEqual(["identity"]);
    expect(plan.missing.map((s) => s.name)).toHaveLength(6);
    expect(plan.postgres).toEqual({ kind: "external", url: "postgres://me@127.0.0.1:5432/app" });
    expect(plan.nats).toEqual({ kind: "external", url: "nats://127.0.0.1:4222" });
  });

  it("plans replicas of every event-consuming service on ports of their own (SHOP_REPLICAS)", async () => {
    for (const name of ["inventory", "order", "catalog"]) {
      mkdirSync(path.join(dir, name), { recursive: true });
      writeFileSync(path.join(dir, name, "main.ts"), "");
    }
    const [inventoryPort, order2Port] = [await freePort(), await freePort()];
    const plan = await planLaunch({
      env: {
        NATS_URL: "nats://127.0.0.1:4222",
        DATABASE_URL: "postgres://me@127.0.0.1:5432/app",
        SHOP_REPLICAS: "2",
        IDENTITY_PORT: String(await freePort()),
        CATALOG_PORT: String(await freePort()),
        INVENTORY_PORT: String(inventoryPort),
        INVENTORY_PORT_2: String(await freePort()),
        ORDER_PORT: String(await freePort()),
        ORDER_PORT_2: String(order2Port),
      },
      mainFile: (name) => path.join(dir, name, "main.ts"),
    });
    const names = plan.services.map((s) => s.name).sort();
    // identity and catalog consume no events: one instance each.
    expect(names).toEqual(["catalog", "identity", "inventory", "inventory-2", "order", "order-2"]);
    const order2 = plan.services.find((s) => s.name === "order-2");
    expect(order2).toMatchObject({ replica: 2, port: order2Port, main: path.join(dir, "order", "main.ts") });
    expect(order2?.manifest.name).toBe("order");
    // Everyone else reaches the first replica.
    expect(plan.ports.get("inventory")).toBe(inventoryPort);
    await expect(
      planLaunch({ env: { NATS_URL: "nats://x:1", DATABASE_URL: "postgres://me@h/app", SHOP_REPLICAS: "9" } }),
    ).rejects.toThrow(/SHOP_REPLICAS must be an integer between 1 and 4 \(got "9"\)/);
  });

  it("refuses a busy service port before starting anything", async () => {
    const server = http2.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      await expect(
        planLaunch({
          env: { NATS_URL: "nats://x:1", DATABASE_URL: "postgres://me@h/app", IDENTITY_PORT: String(port) },
          mainFile: (name) => path.join(dir, name, "main.ts"),
        }),
      ).rejects.toThrow(
        new RegExp(
          `identity's port ${port} is taken: pid ${process.pid} \\(.*\\) is listening on it.*IDENTITY_PORT=<port>`,
        ),
      );
    } finally {
      server.close();
    }
  });

  it("finds executables on PATH only", () => {
    const bin = path.join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(path.join(bin, "nats-server"), "#!/bin/sh\n");
    expect(findOnPath("nats-server", `/nonexistent${path.delimiter}${bin}`)).toBeUndefined();
    chmodSync(path.join(bin, "nats-server"), 0o755);
    expect(findOnPath("nats-server", `/nonexistent${path.delimiter}${bin}`)).toBe(path.join(bin, "nats-server"));
  });
});

describe("npm start without NATS", () => {
  it("exits 1 with how to install nats-server when it is not on PATH and NATS_URL is unset", () => {
    const PATH = path.dirname(NODE); // node only; nats-server lives elsewhere (/usr/sbin, /usr/local/bin...)
    expect(findOnPath("nats-server", PATH)).toBeUndefined();
    const result = spawnSync(NODE, [...FLAGS, "scripts/start.ts"], {
      cwd: REPO_ROOT,
      env: { PATH, HOME: os.homedir() },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("nats-server is not on PATH");
    expect(result.stderr).toContain("apt-get install nats-server");
    expect(result.stderr).toContain("NATS_URL=");
    // Failed before starting anything.
    expect(result.stdout).not.toMatch(/postgres|starting/);
  });

  it("names NATS_URL and DATABASE_URL, one line each, when neither answers, before starting any service", async () => {
    const [natsPort, postgresPort] = await Promise.all([freePort(), freePort()]);
    const result = spawnSync(NODE, [...FLAGS, "scripts/start.ts"], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: os.homedir(),
        NATS_URL: `nats://127.0.0.1:${natsPort}`,
        DATABASE_URL: `postgres://me:secret@127.0.0.1:${postgresPort}/app`,
        IDENTITY_PORT: String(await freePort()),
        CATALOG_PORT: String(await freePort()),
        INVENTORY_PORT: String(await freePort()),
        ORDER_PORT: String(await freePort()),
        PAYMENT_PORT: String(await freePort()),
        NOTIFICATION_PORT: String(await freePort()),
        GATEWAY_PORT: String(await freePort()),
      },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    const problems = `${result.stdout}${result.stderr}`.split("\n").filter((line) => line.includes("✖"));
    expect(problems).toHaveLength(2); // either may fail first; both are reported
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(`NATS_URL \\(nats://127.0.0.1:${natsPort}\\) is unreachable \\(connect ECONNREFUSED`),
        ),
        expect.stringMatching(
          new RegExp(
            `DATABASE_URL \\(postgres://me:\\*\\*\\*@127.0.0.1:${postgresPort}/app\\) is unreachable \\(connect ECONNREFUSED`,
          ),
        ),
      ]),
    );
    expect(result.stdout).not.toMatch(/is healthy/);
  });

  it("says how to run it when Node only strips types", () => {
    const result = spawnSync(NODE, ["scripts/start.ts"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 30_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("--experimental-transform-types");
  });
});

describe("health polling", () => {
  it("waits until SERVING and reports the ones that never are", async () => {
    const registry = new HealthRegistry([], ServingStatus.NOT_SERVING);
    const server = http2.createServer(
      connectNodeAdapter({ routes: (r) => r.service(Health, createHealthService(registry)) }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const nothing = `http://127.0.0.1:${await freePort()}`;
    try {
      setTimeout(() => registry.set("", ServingStatus.SERVING), 300);
      const healthy = await waitForHealthy([{ name: "svc", address }], { timeoutMs: 5_000, intervalMs: 50 });
      expect(healthy.get("svc")).toBeGreaterThanOrEqual(250);

      registry.set("", ServingStatus.NOT_SERVING);
      const failure = await waitForHealthy(
        [
          { name: "draining", address },
          { name: "absent", address: nothing },
        ],
        { timeoutMs: 600, intervalMs: 50 },
      ).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(HealthTimeoutError);
      const unhealthy = (failure as HealthTimeoutError).unhealthy;
      expect(unhealthy.map((u) => [u.name, u.lastAnswer])).toEqual([
        ["draining", "NOT_SERVING"],
        ["absent", expect.stringMatching(/unavailable|ECONNREFUSED/i)],
      ]);
    } finally {
      registry.close();
      server.close();
    }
  });
});

describe("child processes", () => {
  it("SIGKILLs a child that ignores SIGTERM after the grace period, and prefixes its lines", async () => {
    const lines: string[] = [];
    const child = new Child({
      name: "stubborn",
      command: NODE,
      args: [
        "-e",
        "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('up'); setInterval(() => {}, 1000)",
      ],
      env: process.env,
      sink: { line: (source, text) => lines.push(formatLine(source, text, 10)) },
    });
    await new Promise<void>((resolve) => child.onLine((line) => line === "up" && resolve()));
    const exit = await child.stop([{ signal: "SIGTERM", graceMs: 300 }]);
    expect(exit).toMatchObject({ killed: true, signal: "SIGKILL" });
    expect(lines).toEqual(["stubborn   | up", "stubborn   | ignoring SIGTERM"]);
  });

  it("reports a command that cannot be spawned", async () => {
    const child = new Child({ name: "ghost", command: "/nonexistent/binary", args: [], env: {}, sink: silent });
    const exit = await child.exited;
    expect(exit.error?.message).toMatch(/ENOENT/);
  });
});

describe("the pid file of an earlier npm start", () => {
  const env = { NATS_URL: "nats://127.0.0.1:4222", DATABASE_URL: "postgres://me@127.0.0.1:5432/app" };
  let dataDir: string;
  let mainDir: string;
  beforeAll(() => {
    mainDir = mkdtempSync(path.join(os.tmpdir(), "shop-pid-file-test-"));
  });
  afterAll(() => rmSync(mainDir, { recursive: true, force: true }));
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "shop-pid-file-data-"));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  /** A process that would run for minutes: stands in for a service or launcher left behind. */
  const leftover = () => {
    const child = spawn("sleep", ["300"], { stdio: "ignore" });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once("exit", (_code, signal) => resolve(signal)),
    );
    return { pid: child.pid ?? -1, exited, kill: () => child.kill("SIGKILL") };
  };
  /** A pid nothing runs under any more. */
  const deadPid = () => spawnSync("true").pid;
  const write = (launcher: ProcessEntry, processes: ProcessEntry[]) =>
    writeFileSync(pidFilePath(dataDir), JSON.stringify({ launcher, processes, writtenAt: new Date().toISOString() }));
  const plan = () => planLaunch({ env, dataDir, mainFile: (name) => path.join(mainDir, name, "main.ts") });

  it("stops what a dead launcher left running and names each process", async () => {
    const order = leftover();
    const nats = leftover();
    write({ name: "launcher", pid: deadPid() }, [
      describeProcess("order", order.pid)!,
      describeProcess("nats", nats.pid)!,
      // Gone already: not mentioned.
      { name: "catalog", pid: deadPid() },
    ]);
    const planned = await plan();
    expect(planned.stale?.stopped.map((p) => `${p.name} ${p.pid}`)).toEqual([`order ${order.pid}`, `nats ${nats.pid}`]);
    expect(planned.stale?.killed).toEqual([]);
    expect(await order.exited).toBe("SIGTERM");
    expect(await nats.exited).toBe("SIGTERM");
    expect(listProcesses(planned.stale!.stopped)).toBe(`order (pid ${order.pid}), nats (pid ${nats.pid})`);
  });

  it("refuses to start while the launcher that wrote it still runs, naming its pid and processes", async () => {
    const launcher = leftover();
    const order = leftover();
    try {
      write(describeProcess("launcher", launcher.pid)!, [describeProcess("order", order.pid)!]);
      await expect(plan()).rejects.toThrow(
        new RegExp(
          `another npm start \\(pid ${launcher.pid}\\) is running with its data in .* with order \\(pid ${order.pid}\\); stop it \\(kill ${launcher.pid}\\)`,
        ),
      );
    } finally {
      launcher.kill();
      order.kill();
    }
  });

  it("leaves a process alone whose pid was reused since (another start time)", async () => {
    const stranger = leftover();
    try {
      const entry = describeProcess("order", stranger.pid)!;
      write({ name: "launcher", pid: deadPid() }, [{ ...entry, startTime: (entry.startTime ?? 0) - 1 }]);
      expect((await plan()).stale).toBeUndefined();
      expect(describeProcess("sleep", stranger.pid)).toBeDefined();
    } finally {
      stranger.kill();
    }
  });

  it("ignores a torn or foreign file", async () => {
    writeFileSync(pidFilePath(dataDir), "{ not json");
    expect((await plan()).stale).toBeUndefined();
  });
});
