// The system under chaos: `npm start` (scripts/start.ts) as a child process
// with a data directory of its own (its embedded Postgres cluster and
// nats-server store in a temporary directory) and free ports for everything,
// on 127.0.0.1 only, so a chaos run never touches the machine's Postgres or
// NATS. Its output goes to a log file; the processes it runs are found in
// its pid file.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import path from "node:path";
import { discoverManifests, portVariable, REPO_ROOT, serviceAddress } from "../start/services.ts";
import { freePort, freePorts } from "../start/ports.ts";
import { readPidFile, stillRunning } from "../start/pid-file.ts";
import { instanceName, replicaPortVariable } from "../start/system.ts";
import { embeddedServerUrl } from "../start/postgres.ts";
import { LineWaiter } from "../start/line-waiter.ts";
import { DEV_ADMIN } from "../start/services.ts";

export interface Instance {
  /** e.g. "order" or "order-2" (the launcher's names). */
  name: string;
  service: string;
  replica: number;
  port: number;
  address: string;
}

export interface ShopProcess {
  readonly instances: readonly Instance[];
  /** Deployables with a database. */
  readonly databases: readonly string[];
  /** The embedded Postgres's server URL (database "postgres"). */
  readonly postgresUrl: string;
  readonly natsUrl: string;
  readonly admin: { email: string; password: string };
  readonly logFile: string;
  /** Lines the launcher printed (every process's output, prefixed). */
  readonly output: readonly string[];
  /** The instances of one deployable. */
  of(service: string): Instance[];
  /** Pid of an instance, "postgres" or "nats" now (undefined while it is down). */
  pid(name: string): number | undefined;
  /** Resolves with the first line matching `pattern` printed after output index `from`. */
  waitForLine(pattern: RegExp, options: { from?: number; timeoutMs: number }): Promise<string>;
  /** Whether the launcher is still running. */
  readonly running: boolean;
  /** Stops it (SIGTERM: services, then NATS and Postgres; SIGKILL after 60 s). */
  stop(): Promise<number | null>;
}

export async function startShop(options: {
  dataDir: string;
  replicas: number;
  env: Record<string, string>;
}): Promise<ShopProcess> {
  const manifests = await discoverManifests();
  const instances: Instance[] = [];
  const [postgresPort, natsPort] = await freePorts(2);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SHOP_DATA_DIR: options.dataDir,
    SHOP_REPLICAS: String(options.replicas),
    ADMIN_EMAIL: DEV_ADMIN.email,
    ADMIN_PASSWORD: DEV_ADMIN.password,
    // No metrics endpoints: their default ports (PORT + 1000) are not checked for clashes.
    METRICS_PORT: "0",
    NO_COLOR: "1",
    POSTGRES_PORT: String(postgresPort),
    NATS_PORT: String(natsPort),
    ...options.env,
  };
  const taken = new Set([Number(env.POSTGRES_PORT), Number(env.NATS_PORT)]);
  const port = async () => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  for (const m of manifests) {
    const count = m.consumes.length > 0 ? options.replicas : 1;
    for (let replica = 1; replica <= count; replica++) {
      const p = await port();
      env[replica === 1 ? portVariable(m.name) : replicaPortVariable(m.name, replica)] = String(p);
      instances.push({
        name: instanceName(m.name, replica),
        service: m.name,
        replica,
        port: p,
        address: serviceAddress(p),
      });
    }
  }
  const logFile = path.join(options.dataDir, "launcher.log");
  const log: WriteStream = createWriteStream(logFile);
  const launcher: ChildProcess = spawn(
    process.execPath,
    ["--experimental-transform-types", "--disable-warning=ExperimentalWarning", "scripts/start.ts"],
    { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let running = true;
  const exited = new Promise<number | null>((resolve) =>
    launcher.once("exit", (code) => {
      running = false;
      resolve(code);
    }),
  );
  const output = new LineWaiter(exited, "the launcher");
  const toLog = (chunk: Buffer) => log.write(chunk);
  output.follow(launcher.stdout, toLog);
  output.follow(launcher.stderr, toLog);
  // The launcher's pid file names every instance it runs now (see pid-file.ts).
  const pids = (): Map<string, number> => {
    const found = new Map<string, number>();
    for (const entry of readPidFile(options.dataDir)?.processes ?? []) {
      if (stillRunning(entry)) found.set(entry.name, entry.pid);
    }
    return found;
  };

  return {
    instances,
    databases: manifests.filter((m) => m.database).map((m) => m.name),
    postgresUrl: embeddedServerUrl(Number(env.POSTGRES_PORT)),
    natsUrl: `nats://127.0.0.1:${env.NATS_PORT}`,
    admin: { email: DEV_ADMIN.email, password: DEV_ADMIN.password },
    logFile,
    output: output.lines,
    of: (service) => instances.filter((i) => i.service === service),
    pid: (name) => pids().get(name),
    get running() {
      return running;
    },
    waitForLine(pattern, options) {
      return output.waitFor(pattern, options);
    },
    async stop() {
      if (running) {
        launcher.kill("SIGTERM");
        const timer = setTimeout(() => launcher.kill("SIGKILL"), 60_000);
        await exited;
        clearTimeout(timer);
      }
      await new Promise<void>((resolve) => log.end(resolve));
      return exited;
    },
  };
}
