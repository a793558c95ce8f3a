// The whole system as `npm start` runs it: plan (everything that can be
// checked before starting anything), start (Postgres and NATS, databases,
// services in waves until healthy) and an ordered stop. The CLI
// (scripts/start.ts) and the start-up benchmark both drive it.
import { existsSync } from "node:fs";
import path from "node:path";
import type { ServiceManifest } from "@shop/runtime/manifest";
import { buildServiceBundles } from "../build-services.ts";
import { Child, describeExit, sleep, type ExitInfo } from "./child.ts";
import { LaunchError } from "./errors.ts";
import { HealthTimeoutError, waitForHealthy } from "./health.ts";
import {
  externalNats,
  findOnPath,
  probeExternalNats,
  NATS_BINARY,
  natsMissingMessage,
  startPrivateNats,
  type NatsHandle,
} from "./nats.ts";
import { LAUNCHER, type LogSink } from "./output.ts";
import { freePort, isPortFree, parsePort, portClash } from "./ports.ts";
import {
  earlierRun,
  listProcesses,
  pidFilePath,
  removePidFile,
  stopStale,
  writePidFile,
  type ProcessEntry,
} from "./pid-file.ts";
import { exitCause, Supervisor, type SupervisionEnd } from "./supervisor.ts";
import {
  ensureServiceDatabases,
  externalPostgres,
  probeExternalPostgres,
  startEmbeddedPostgres,
  type PostgresHandle,
} from "./postgres.ts";
import {
  childEnv,
  defaultBundleFile,
  defaultMainFile,
  discoverManifests,
  NODE_FLAGS,
  portVariable,
  redact,
  REPO_ROOT,
  resolvePorts,
  serviceAddress,
  serviceDatabaseUrl,
  startWaves,
} from "./services.ts";

/** Where Node keeps compiled code between runs (see childEnv). */
export function compileCacheDir(dataDir: string): string {
  return path.join(dataDir, "node-compile-cache");
}

/**
 * `--cpu-prof` flags when SHOP_CPU_PROF names a directory: each service
 * instance writes a V8 CPU profile (open it in Chrome DevTools' Performance
 * panel or speedscope) to <dir>/<instance>/ when it exits, one file per
 * process, so a restart adds a file instead of replacing one. The flag
 * cannot go through NODE_OPTIONS, hence this variable.
 */
export function cpuProfileFlags(env: NodeJS.ProcessEnv, instance: string): string[] {
  const dir = env.SHOP_CPU_PROF?.trim();
  if (!dir) return [];
  return ["--cpu-prof", `--cpu-prof-dir=${path.join(path.resolve(dir), instance)}`];
}

/** Private ports tried first, away from the usual 5432/4222 of a machine-wide Postgres and NATS. */
export const DEFAULT_POSTGRES_PORT = 54329;
export const DEFAULT_NATS_PORT = 42229;
/** How long services get to report SERVING. */
export const HEALTH_TIMEOUT_MS = 60_000;
/** How long a service gets to drain after SIGTERM before SIGKILL. */
export const SERVICE_STOP_GRACE_MS = 10_000;

export interface PlanOptions {
  /** The user's environment; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Runtime data (Postgres cluster, JetStream store); default SHOP_DATA_DIR, else <repo>/.data. */
  dataDir?: string;
  servicesDir?: string;
  /**
   * Run these files as they are instead of each deployable's bundle (which
   * the launcher builds from services/<name>/src/main.ts when stale).
   */
  mainFile?: (name: string) => string;
  /** Rebuild every bundle even if it is up to date (the benchmark's cold start). */
  rebuildBundles?: boolean;
  /**
   * Instances of every event-consuming service (default SHOP_REPLICAS, else
   * 1): replicas as a cluster runs them, sharing the database and the durable
   * consumers, each relaying the outbox; see replicaPorts for their ports.
   */
  replicas?: number;
}

export interface PlannedService {
  manifest: ServiceManifest;
  /** The instance: the deployable's name for its first replica, `<name>-<k>` for replica k (k ≥ 2). */
  name: string;
  /** 1-based replica number. */
  replica: number;
  port: number;
  /** Base URL, e.g. http://127.0.0.1:7004. */
  address: string;
  /** The file Node runs: the bundle, services/<name>/dist/main.js, unless PlanOptions.mainFile. */
  main: string;
}

export type PostgresPlan =
  { kind: "external"; url: string } | { kind: "embedded"; port: number; dataDir: string; note?: string };

export type NatsPlan =
  | { kind: "external"; url: string }
  | { kind: "private"; binary: string; port: number; storeDir: string; note?: string };

export interface Plan {
  env: NodeJS.ProcessEnv;
  dataDir: string;
  /** Port of every deployable, launched or not. */
  ports: Map<string, number>;
  /** Deployables whose main.ts exists, in start order. */
  services: PlannedService[];
  /** Deployables with a manifest but no main.ts yet. */
  missing: PlannedService[];
  /** Bundles to bring up to date before starting services: none when PlanOptions.mainFile is given. */
  bundles: { force: boolean } | undefined;
  postgres: PostgresPlan;
  nats: NatsPlan;
  /**
   * Processes an earlier `npm start` with this data directory left running
   * (its launcher died without stopping them; see pid-file.ts), stopped by
   * planLaunch; `killed` are those that needed SIGKILL.
   */
  stale?: { stopped: ProcessEntry[]; killed: ProcessEntry[] };
}

/**
 * Decides what to run without starting anything, so every mistake the user
 * can fix (no nats-server, a bad variable, a busy port) is reported at once.
 */
export async function planLaunch(options: PlanOptions = {}): Promise<Plan> {
  const env = options.env ?? process.env;
  const dataDir = options.dataDir ?? (env.SHOP_DATA_DIR || path.join(REPO_ROOT, ".data"));
  const sourceFile = options.mainFile ?? ((name: string) => defaultMainFile(name, options.servicesDir));
  const mainFile = options.mainFile ?? ((name: string) => defaultBundleFile(name, options.servicesDir));

  // First what an earlier npm start left here: its processes would hold the ports checked below.
  const earlier = earlierRun(dataDir);
  if (earlier.kind === "running") {
    const pid = String(earlier.launcher.pid);
    const children = earlier.processes.length > 0 ? ` with ${listProcesses(earlier.processes)}` : "";
    throw new LaunchError(
      `another npm start (pid ${pid}) is running with its data in ${dataDir}${children}; stop it (kill ${pid}), or give this one its own SHOP_DATA_DIR`,
    );
  }
  let stale: Plan["stale"];
  if (earlier.kind === "stale") {
    stale = { stopped: earlier.processes, killed: await stopStale(earlier.processes) };
  }

  const manifests = await discoverManifests(options.servicesDir);
  const ports = resolvePorts(manifests, env);
  const replicas = options.replicas ?? parseReplicas(env.SHOP_REPLICAS);
  const replicaPortsOf = replicaPorts(manifests, ports, replicas, env);
  const planned = manifests.flatMap((manifest): PlannedService[] =>
    (replicaPortsOf.get(manifest.name) ?? []).map((port, i) => ({
      manifest,
      name: instanceName(manifest.name, i + 1),
      replica: i + 1,
      port,
      address: serviceAddress(port),
      main: mainFile(manifest.name),
    })),
  );
  const services = planned.filter((s) => existsSync(sourceFile(s.manifest.name)));
  const missing = planned.filter((s) => !existsSync(sourceFile(s.manifest.name)));
  const bundles = options.mainFile ? undefined : { force: options.rebuildBundles ?? false };

  let nats: NatsPlan;
  if (env.NATS_URL) {
    nats = { kind: "external", url: env.NATS_URL };
  } else {
    const binary = findOnPath(NATS_BINARY, env.PATH);
    if (!binary) throw new LaunchError(natsMissingMessage());
    nats = {
      kind: "private",
      binary,
      storeDir: path.join(dataDir, "nats"),
      ...(await privatePort("NATS_PORT", env, DEFAULT_NATS_PORT)),
    };
  }

  let postgres: PostgresPlan;
  if (env.DATABASE_URL) {
    serviceDatabaseUrl(env.DATABASE_URL, "check"); // throws a readable error for a malformed URL
    postgres = { kind: "external", url: env.DATABASE_URL };
  } else {
    postgres = {
      kind: "embedded",
      dataDir: path.join(dataDir, "postgres"),
      ...(await privatePort("POSTGRES_PORT", env, DEFAULT_POSTGRES_PORT)),
    };
  }

  const clashes = await Promise.all(
    services.map(async (service) => {
      const clash = await portClash(service.port);
      const variable =
        service.replica === 1
          ? portVariable(service.name)
          : replicaPortVariable(service.manifest.name, service.replica);
      return (
        clash && `${service.name}'s port ${String(service.port)} is taken: ${clash}; stop it, or set ${variable}=<port>`
      );
    }),
  );
  const problems = clashes.filter((clash) => clash !== undefined);
  if (problems.length > 0) throw new LaunchError(problems.join("\n"));
  return { env, dataDir, ports, services, missing, bundles, postgres, nats, ...(stale ? { stale } : {}) };
}

/** The most instances per event-consuming service (each needs its port, its connections, its memory). */
export const MAX_REPLICAS = 4;

function parseReplicas(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return 1;
  const n = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_REPLICAS) {
    throw new LaunchError(
      `SHOP_REPLICAS must be an integer between 1 and ${MAX_REPLICAS} (got ${JSON.stringify(raw)})`,
    );
  }
  return n;
}

/** A service instance's name: `order` for the first replica, `order-2` for the second... */
export function instanceName(service: string, replica: number): string {
  return replica === 1 ? service : `${service}-${String(replica)}`;
}

/** Environment variable overriding replica k's port (k ≥ 2), e.g. ORDER_PORT_2. */
export function replicaPortVariable(service: string, replica: number): string {
  return `${portVariable(service)}_${String(replica)}`;
}

/** How far apart the default ports of one service's replicas are (order 7004, order-2 7104...). */
export const REPLICA_PORT_STEP = 100;

/**
 * Every instance's port, per deployable: replica 1 on the deployable's port,
 * replica k of an event-consuming service on <NAME>_PORT_<k>, else its port
 * plus (k - 1) × REPLICA_PORT_STEP. Services that consume no events (identity,
 * catalog, gateway) run once: their replicas would add nothing the saga
 * could get wrong.
 */
export function replicaPorts(
  manifests: readonly ServiceManifest[],
  ports: ReadonlyMap<string, number>,
  replicas: number,
  env: NodeJS.ProcessEnv,
): Map<string, number[]> {
  const result = new Map<string, number[]>();
  const owners = new Map<number, string>([...ports].map(([name, port]) => [port, name]));
  for (const m of manifests) {
    const base = ports.get(m.name);
    if (base === undefined) throw new Error(`no port for ${m.name}`);
    const list = [base];
    for (let k = 2; k <= (m.consumes.length > 0 ? replicas : 1); k++) {
      const variable = replicaPortVariable(m.name, k);
      const port = parsePort(variable, env[variable], base + (k - 1) * REPLICA_PORT_STEP);
      const clash = owners.get(port);
      if (clash)
        throw new LaunchError(
          `${instanceName(m.name, k)} and ${clash} would both listen on port ${port}; set ${variable}`,
        );
      owners.set(port, instanceName(m.name, k));
      list.push(port);
    }
    result.set(m.name, list);
  }
  return result;
}

/** Port for a private server: the variable if set (must be free), else `preferred`, else any free one. */
async function privatePort(
  variable: string,
  env: NodeJS.ProcessEnv,
  preferred: number,
): Promise<{ port: number; note?: string }> {
  if (env[variable]) {
    const port = parsePort(variable, env[variable], preferred);
    const clash = await portClash(port);
    if (clash) throw new LaunchError(`${variable}=${String(port)}, but that port is taken: ${clash}`);
    return { port };
  }
  if (await isPortFree(preferred)) return { port: preferred };
  const port = await freePort();
  return { port, note: `port ${preferred} is in use, so ${port} (set ${variable} to choose)` };
}

export interface StartOptions {
  sink: LogSink;
  /** Aborting stops whatever has started and rejects (Ctrl-C during start-up). */
  signal?: AbortSignal;
  healthTimeoutMs?: number;
}

export interface RunningService extends PlannedService {
  /** Restarts the service's process when it dies (see supervisor.ts). */
  supervisor: Supervisor;
  /** Its process now. */
  readonly child: Child;
  /** Milliseconds from startSystem() until it reported SERVING. */
  healthyAfterMs: number;
}

export interface Timings {
  /** Bundles up to date (built, if stale, while Postgres and NATS start). */
  bundlesMs: number;
  /** How many bundles had to be built. */
  bundlesBuilt: number;
  /** Postgres, NATS and bundles ready (all three concurrently). */
  infraMs: number;
  postgresMs: number;
  natsMs: number;
  /** Databases created/checked. */
  databasesMs: number;
  /** Everything healthy, from the start of startSystem(). */
  totalMs: number;
}

/** Postgres or NATS ended while the system was up, or while it was starting. */
export class ChildExitedError extends Error {
  override name = "ChildExitedError";
  constructor(readonly exit: ExitInfo) {
    super(`${exit.name} ${describeExit(exit)}`);
  }
}

/** Services that cannot start (their "cannot start:" lines, every service's) or one in a crash loop. */
export class SupervisionEndedError extends Error {
  override name = "SupervisionEndedError";
  constructor(readonly ends: readonly SupervisionEnd[]) {
    super(ends.map((e) => `${e.name}: ${e.kind === "crash-loop" ? e.cause : e.problems.join("; ")}`).join("; "));
  }
}

/** What makes the whole system stop: Postgres or NATS gone, or supervision giving up on a service. */
export type SystemFailure =
  { kind: "infra-exit"; exit: ExitInfo } | { kind: "supervision"; error: SupervisionEndedError };

/** Failed restarts of Postgres or NATS in a row before the launcher gives up. */
const INFRA_RESTART_LIMIT = 3;

/** How long, after a first service says it cannot start, the launcher waits for the others' verdicts. */
const STARTUP_PROBLEM_COLLECTION_MS = 3_000;

export class RunningSystem {
  readonly plan: Plan;
  readonly services: RunningService[] = [];
  postgres: PostgresHandle | undefined;
  nats: NatsHandle | undefined;
  /** Where the launcher's own lines go (set by startSystem). */
  sink: LogSink | undefined;
  timings: Timings = {
    bundlesMs: 0,
    bundlesBuilt: 0,
    infraMs: 0,
    postgresMs: 0,
    natsMs: 0,
    databasesMs: 0,
    totalMs: 0,
  };
  /** Resolves when the system cannot go on (never during stop()); services that die are restarted instead. */
  readonly unexpectedExit: Promise<SystemFailure>;

  readonly #died = new AbortController();
  /** Aborted by stop(): cancels infrastructure restarts under way. */
  readonly #stopAbort = new AbortController();
  #resolveExit!: (failure: SystemFailure) => void;
  readonly #ends: SupervisionEnd[] = [];
  #endTimer: NodeJS.Timeout | undefined;
  #stopping: Promise<string[]> | undefined;
  readonly #lastResort = () => this.#signalAll();

  constructor(plan: Plan) {
    this.plan = plan;
    this.unexpectedExit = new Promise((resolve) => (this.#resolveExit = resolve));
    // If the launcher itself exits without stop() (a crash), children in
    // their own process groups would outlive it: signal them on the way out.
    process.on("exit", this.#lastResort);
  }

  /**
   * Rewrites the pid file (see pid-file.ts) with every process running now;
   * called whenever one is started or restarted.
   */
  recordPids(): void {
    if (this.#stopping) return;
    try {
      writePidFile(this.plan.dataDir, [
        ...this.services.map((s) => ({ name: s.name, pid: s.child.pid })),
        { name: "postgres", pid: this.postgres?.child?.pid },
        { name: "nats", pid: this.nats?.child?.pid },
      ]);
    } catch (error) {
      if (this.#pidFileFailed) return;
      this.#pidFileFailed = true;
      this.sink?.line(
        LAUNCHER,
        `warning: cannot write ${pidFilePath(this.plan.dataDir)} (${(error as Error).message}); a later npm start cannot tell what this one left running`,
        "stderr",
      );
    }
  }

  #pidFileFailed = false;

  /** Aborts when a child dies; start-up waits on it. */
  get diedSignal(): AbortSignal {
    return this.#died.signal;
  }

  /**
   * Postgres and NATS. With `restart`, one that dies is started again (its
   * data kept, on the same port: the services reconnect by themselves, as
   * they would to a database or broker pod the platform restarted); their
   * end ends the system only when restarting fails INFRA_RESTART_LIMIT
   * times in a row, or, without `restart`, at once.
   */
  watch(child: Child, restart?: (signal: AbortSignal) => Promise<Child | undefined>, failures = 0): void {
    void child.exited.then(async (exit) => {
      if (this.#stopping) return;
      const fatal = () => {
        this.#died.abort(new ChildExitedError(exit));
        this.#resolveExit({ kind: "infra-exit", exit });
      };
      if (!restart || failures >= INFRA_RESTART_LIMIT) {
        fatal();
        return;
      }
      const delayMs = 500 * 2 ** failures;
      this.sink?.line(
        LAUNCHER,
        `✖ ${exit.name} ${exitCause(exit, child.tail.toString())}; restarting it in ${(delayMs / 1000).toFixed(1)} s`,
        "stderr",
      );
      try {
        await sleep(delayMs, this.#stopAbort.signal);
        const next = await restart(this.#stopAbort.signal);
        if (!next) {
          fatal();
          return;
        }
        this.sink?.line(LAUNCHER, `${exit.name} is back`);
        this.recordPids();
        this.watch(next, restart, 0);
      } catch (error) {
        // stop() may have begun while the restart ran (the narrowing above cannot see that).
        if ((this.#stopping as Promise<string[]> | undefined) !== undefined) return;
        this.sink?.line(LAUNCHER, `✖ ${exit.name} did not come back: ${(error as Error).message}`, "stderr");
        this.watch(child, restart, failures + 1);
      }
    });
  }

  /**
   * A service supervision gave up on. A crash loop ends the system at once;
   * "cannot start" problems are collected from every service (until all have
   * answered SERVING or given up, at most a few seconds) and reported together.
   */
  supervisionEnded(end: SupervisionEnd): void {
    if (this.#stopping || this.#died.signal.aborted) return;
    this.#ends.push(end);
    const fail = () => {
      clearInterval(this.#endTimer);
      if (this.#stopping || this.#died.signal.aborted) return;
      const error = new SupervisionEndedError([...this.#ends]);
      this.#died.abort(error);
      this.#resolveExit({ kind: "supervision", error });
    };
    if (end.kind === "crash-loop") {
      fail();
      return;
    }
    if (this.#endTimer) return;
    const deadline = performance.now() + STARTUP_PROBLEM_COLLECTION_MS;
    this.#endTimer = setInterval(() => {
      const undecided = this.services.filter(
        (s) => Number.isNaN(s.healthyAfterMs) && !this.#ends.some((e) => e.name === s.name),
      );
      if (undecided.length === 0 || performance.now() >= deadline) fail();
    }, 100);
  }

  /**
   * Services first (SIGTERM, SIGKILL after the grace period) so they drain
   * while Postgres and NATS are still up, then NATS and Postgres. Idempotent.
   * Resolves with the names of processes that had to be SIGKILLed.
   */
  stop(): Promise<string[]> {
    this.#stopping ??= (async () => {
      this.#stopAbort.abort(new Error("stopping"));
      clearInterval(this.#endTimer);
      for (const s of this.services) s.supervisor.stopSupervising();
      const killed: string[] = [];
      await Promise.all(
        this.services.map(async (s) => {
          const exit = await s.child.stop([{ signal: "SIGTERM", graceMs: SERVICE_STOP_GRACE_MS }]);
          if (exit.killed) killed.push(s.name);
        }),
      );
      await Promise.all([this.nats?.stop(), this.postgres?.stop()]);
      for (const infra of [this.nats?.child, this.postgres?.child]) {
        if (infra && (await infra.exited).signal === "SIGKILL") killed.push(infra.name);
      }
      // Everything it listed has stopped.
      removePidFile(this.plan.dataDir);
      process.removeListener("exit", this.#lastResort);
      return killed;
    })();
    return this.#stopping;
  }

  #signalAll(): void {
    for (const s of this.services) s.child.signal("SIGTERM");
    this.nats?.child?.signal("SIGTERM");
    this.postgres?.child?.signal("SIGINT");
  }
}

/**
 * Starts Postgres and NATS (concurrently), creates the databases, then the
 * services wave by wave, each wave until SERVING. On any failure (or abort)
 * stops what was started and rejects; ChildExitedError if a process died,
 * HealthTimeoutError if services did not become healthy in time.
 */
export async function startSystem(plan: Plan, options: StartOptions): Promise<RunningSystem> {
  const { sink } = options;
  const system = new RunningSystem(plan);
  system.sink = sink;
  const started = performance.now();
  const since = () => performance.now() - started;
  const signal = options.signal ? AbortSignal.any([options.signal, system.diedSignal]) : system.diedSignal;
  /** When each service last died, for "healthy again after". */
  const diedAt = new Map<string, number>();
  // If Postgres fails to start there is no point waiting for NATS, and vice versa.
  const infraFailed = new AbortController();
  const infraSignal = AbortSignal.any([signal, infraFailed.signal]);
  try {
    const postgres = (async () => {
      if (plan.postgres.kind === "external") {
        await probeExternalPostgres(plan.postgres.url);
        return externalPostgres(plan.postgres.url);
      }
      if (plan.postgres.note) sink.line(LAUNCHER, `postgres: ${plan.postgres.note}`);
      const handle = await startEmbeddedPostgres({
        dataDir: plan.postgres.dataDir,
        port: plan.postgres.port,
        sink,
        signal: infraSignal,
      });
      system.timings.postgresMs = since();
      return handle;
    })().then(
      (handle) => {
        system.postgres = handle;
        system.recordPids();
        if (handle.child && plan.postgres.kind === "embedded") {
          const { dataDir, port } = plan.postgres;
          system.watch(handle.child, async (stopSignal) => {
            const next = await startEmbeddedPostgres({ dataDir, port, sink, signal: stopSignal });
            system.postgres = next;
            return next.child;
          });
        }
      },
      (error: unknown) => {
        infraFailed.abort(error);
        throw error;
      },
    );
    const nats = (async () => {
      if (plan.nats.kind === "external") {
        await probeExternalNats(plan.nats.url);
        return externalNats(plan.nats.url);
      }
      if (plan.nats.note) sink.line(LAUNCHER, `nats: ${plan.nats.note}`);
      const handle = await startPrivateNats({
        binary: plan.nats.binary,
        port: plan.nats.port,
        storeDir: plan.nats.storeDir,
        sink,
        signal: infraSignal,
      });
      system.timings.natsMs = since();
      return handle;
    })().then(
      (handle) => {
        system.nats = handle;
        system.recordPids();
        if (handle.child && plan.nats.kind === "private") {
          const { binary, port, storeDir } = plan.nats;
          system.watch(handle.child, async (stopSignal) => {
            const next = await startPrivateNats({ binary, port, storeDir, sink, signal: stopSignal });
            system.nats = next;
            return next.child;
          });
        }
      },
      (error: unknown) => {
        infraFailed.abort(error);
        throw error;
      },
    );
    // The services' code, bundled while the servers start (CPU here, mostly waiting there).
    const bundles = (async () => {
      if (!plan.bundles) return;
      const results = await buildServiceBundles([...new Set(plan.services.map((s) => s.manifest.name))], plan.bundles);
      system.timings.bundlesMs = since();
      system.timings.bundlesBuilt = results.filter((r) => r.built).length;
      if (system.timings.bundlesBuilt > 0) {
        sink.line(
          LAUNCHER,
          `bundled ${system.timings.bundlesBuilt} service(s) (${(system.timings.bundlesMs / 1000).toFixed(1)} s)`,
        );
      }
    })().catch((cause: unknown) => {
      const error = new LaunchError(`could not bundle the services: ${(cause as Error).message}`);
      infraFailed.abort(error);
      throw error;
    });
    // allSettled first: if one fails, the others must have finished starting
    // before stop() so that they are stopped too.
    const infra = await Promise.allSettled([postgres, nats, bundles]);
    // The first failure is the cause; the other one only saw the abort.
    const failures = new Set(infra.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : [])));
    if (infraFailed.signal.aborted) failures.delete(infraFailed.signal.reason);
    const problems = [...failures].filter((f) => f instanceof LaunchError);
    // Every problem the user can fix at once (DATABASE_URL and NATS_URL both wrong), else the first failure.
    if (infraFailed.signal.aborted && infraFailed.signal.reason instanceof LaunchError && problems.length > 0)
      throw new LaunchError([infraFailed.signal.reason, ...problems].map((p) => p.message).join("\n✖ "));
    if (infraFailed.signal.aborted) throw infraFailed.signal.reason;
    for (const failure of failures) throw failure;
    system.timings.infraMs = since();

    const owners = [...new Set(plan.services.filter((s) => s.manifest.database).map((s) => s.manifest.name))];
    try {
      await ensureServiceDatabases(recorded(system.postgres, "Postgres").serverUrl, owners);
    } catch (error) {
      if (plan.postgres.kind === "embedded") throw error;
      // The user's server may not let us CREATE DATABASE; the services may still manage.
      sink.line(
        LAUNCHER,
        `warning: could not create the service databases on ${redact(plan.postgres.url)}: ${(error as Error).message}`,
        "stderr",
      );
    }
    system.timings.databasesMs = since();

    const natsUrl = recorded(system.nats, "NATS").url;
    const databaseServerUrl = recorded(system.postgres, "Postgres").serverUrl;
    const healthTimeoutMs = options.healthTimeoutMs ?? HEALTH_TIMEOUT_MS;
    const servicesStarted = performance.now();
    for (const wave of startWaves(plan.services)) {
      for (const service of wave) {
        const spawn = () =>
          new Child({
            name: service.name,
            // The same Node that runs the launcher (Node 24 under npm), not whatever `node` is on PATH.
            command: process.execPath,
            args: [...NODE_FLAGS, ...cpuProfileFlags(plan.env, service.name), service.main],
            env: {
              ...childEnv(service.manifest, {
                ports: plan.ports,
                databaseServerUrl,
                natsUrl,
                env: plan.env,
                compileCacheDir: compileCacheDir(plan.dataDir),
              }),
              // A replica listens on its own port (its metrics too: PORT + 1000 unless METRICS_PORT).
              PORT: String(service.port),
            },
            cwd: REPO_ROOT,
            sink,
            ipc: true,
          });
        const running: RunningService = {
          ...service,
          supervisor: new Supervisor(service.name, spawn, {
            onRestart: ({ cause, restart, delayMs }) => {
              diedAt.set(service.name, performance.now());
              sink.line(
                LAUNCHER,
                `✖ ${service.name} ${cause}; restarting it in ${(delayMs / 1000).toFixed(1)} s (restart ${restart})`,
                "stderr",
              );
            },
            onRespawn: (child) => {
              system.recordPids();
              void reportHealthyAgain(system, running, child, diedAt.get(service.name));
            },
            onGiveUp: (end) => system.supervisionEnded(end),
          }),
          get child() {
            return this.supervisor.child;
          },
          healthyAfterMs: NaN,
        };
        system.services.push(running);
      }
      system.recordPids();
      const remaining = healthTimeoutMs - (performance.now() - servicesStarted);
      await waitForHealthy(wave, {
        timeoutMs: Math.max(remaining, 0),
        signal,
        onHealthy: (name) => {
          const ms = since();
          const running = system.services.find((s) => s.name === name);
          if (!running) throw new Error(`${name} is healthy but was never started`);
          running.healthyAfterMs = ms;
          running.supervisor.markHealthy();
          sink.line(LAUNCHER, `${name} is healthy (${(ms / 1000).toFixed(1)} s)`);
        },
      }).catch((error: unknown) => {
        if (!(error instanceof HealthTimeoutError)) throw error;
        const notStarted = plan.services
          .filter((p) => !system.services.some((s) => s.name === p.name))
          .map((p) => p.name);
        throw new HealthTimeoutError(healthTimeoutMs, error.unhealthy, notStarted);
      });
    }
    system.timings.totalMs = since();
    return system;
  } catch (error) {
    // A dead child aborts `signal` with ChildExitedError; report that rather than the abort.
    const reason: unknown = system.diedSignal.aborted && !options.signal?.aborted ? system.diedSignal.reason : error;
    await system.stop();
    throw reason;
  }
}

/** Postgres or NATS once the infra start succeeded (it records both). */
function recorded<T>(handle: T | undefined, what: string): T {
  if (handle === undefined) throw new Error(`${what} started but its handle was not recorded`);
  return handle;
}

/** After a restart: says when the service answers SERVING again (or that it did not within the health timeout). */
async function reportHealthyAgain(
  system: RunningSystem,
  service: RunningService,
  child: Child,
  diedAt: number | undefined,
): Promise<void> {
  const gone = new AbortController();
  void child.exited.then(() => gone.abort(new Error("exited")));
  try {
    await waitForHealthy([service], { timeoutMs: HEALTH_TIMEOUT_MS, signal: gone.signal });
    service.supervisor.markHealthy();
    const after = diedAt === undefined ? "" : ` ${((performance.now() - diedAt) / 1000).toFixed(1)} s after it died`;
    system.sink?.line(LAUNCHER, `${service.name} is healthy again${after} (restart ${service.supervisor.restarts})`);
  } catch (error) {
    if (gone.signal.aborted) return; // died again: the supervisor says so
    if (error instanceof HealthTimeoutError) {
      system.sink?.line(
        LAUNCHER,
        `✖ ${service.name} is not healthy ${HEALTH_TIMEOUT_MS / 1000} s after its restart: ${error.unhealthy[0]?.lastAnswer ?? ""}`,
        "stderr",
      );
    }
  } finally {
    gone.abort();
  }
}
