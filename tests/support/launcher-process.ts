// `npm start` as a real process for tests: the launcher with its own data
// directory (a private embedded Postgres cluster and nats-server store), every
// port free and unique, so tests can kill its services, its Postgres and NATS,
// and the launcher itself, without touching the machine's servers.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { LineWaiter } from "../../scripts/start/line-waiter.ts";
import { discoverManifests, portVariable, REPO_ROOT, serviceAddress } from "../../scripts/start/services.ts";
import { ADMIN_EMAIL, ADMIN_PASSWORD, shopAccess, type ShopAccess } from "./shop-access.ts";
import { freePorts } from "./system.ts";

export interface LauncherProcess extends ShopAccess {
  readonly pid: number;
  /** Its SHOP_DATA_DIR. */
  readonly dataDir: string;
  /** The environment it was started with (ports and all), to start another one in its place. */
  readonly env: NodeJS.ProcessEnv;
  readonly output: string[];
  url(service: string): string;
  /** Resolves with the first line (already printed or to come) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Pid of a process the launcher started: a service by name, "postgres" or "nats". */
  childPid(name: string): number | undefined;
  /** Every process the launcher started, by name. */
  childPids(): Map<string, number>;
  /** Stops it (SIGTERM, then SIGKILL) and removes its data directory. */
  stop(): Promise<void>;
}

function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${String(pid)}/cmdline`, "utf8")
      .split("\0")
      .join(" ");
  } catch {
    return undefined;
  }
}

function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  const stat = (() => {
    try {
      return readFileSync(`/proc/${String(pid)}/stat`, "utf8");
    } catch {
      return undefined;
    }
  })();
  // A zombie (state Z) has exited; only its parent has not collected it yet.
  return stat !== undefined && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

/**
 * Starts the launcher on a fresh data directory and free ports, or, with
 * `reuse`, on another launcher's data directory and ports (a second `npm
 * start` after the first one died).
 */
export async function startLauncher(
  extraEnv: Record<string, string> = {},
  reuse?: Pick<LauncherProcess, "dataDir" | "env">,
): Promise<LauncherProcess> {
  const dataDir = reuse?.dataDir ?? mkdtempSync(path.join(os.tmpdir(), "shop-launcher-"));
  // Running as root, Postgres runs as the "postgres" user, which must reach it.
  chmodSync(dataDir, 0o755);
  const manifests = await discoverManifests();
  // Distinct: ports picked one by one can repeat (a clash the launcher refuses).
  const [postgresPort, natsPort, ...servicePorts] = await freePorts(manifests.length + 2);
  const env: NodeJS.ProcessEnv = reuse
    ? { ...reuse.env, ...extraEnv }
    : {
        PATH: process.env.PATH,
        HOME: os.homedir(),
        SHOP_DATA_DIR: dataDir,
        METRICS_PORT: "0",
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        POSTGRES_PORT: String(postgresPort),
        NATS_PORT: String(natsPort),
        ...extraEnv,
      };
  const ports = new Map<string, number>();
  for (const [i, m] of manifests.entries()) {
    ports.set(m.name, reuse ? Number(env[portVariable(m.name)]) : servicePorts[i]);
    env[portVariable(m.name)] = String(ports.get(m.name));
  }
  const launcher: ChildProcess = spawn(
    process.execPath,
    ["--experimental-transform-types", "--disable-warning=ExperimentalWarning", "scripts/start.ts"],
    { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<void>((resolve) => launcher.once("exit", () => resolve()));
  const output = new LineWaiter(exited, "the launcher");
  output.follow(launcher.stdout);
  output.follow(launcher.stderr);

  const urlOf = (service: string) => serviceAddress(ports.get(service) ?? Number.NaN);
  const access = shopAccess((service: DescService) => {
    const owner = manifests.find((m) => m.serves.includes(service));
    if (!owner) throw new Error(`no deployable serves ${service.typeName}`);
    return urlOf(owner.name);
  });
  const pid = launcher.pid!;
  const childPids = () => {
    const found = new Map<string, number>();
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry) || parentPid(Number(entry)) !== pid) continue;
      const command = commandLine(Number(entry)) ?? "";
      const service = /services\/([a-z]+)\/dist\/main\.js/.exec(command)?.[1];
      const name =
        service ?? (command.includes("nats-server") ? "nats" : command.includes("postgres") ? "postgres" : "");
      if (name) found.set(name, Number(entry));
    }
    return found;
  };
  const process_: LauncherProcess = {
    ...access,
    pid,
    dataDir,
    env,
    output: output.lines,
    url: urlOf,
    waitForLine(pattern, timeoutMs = 60_000) {
      return output.waitFor(pattern, { timeoutMs });
    },
    childPid: (name) => childPids().get(name),
    childPids,
    async stop() {
      access.close();
      if (launcher.exitCode === null && launcher.signalCode === null) {
        launcher.kill("SIGTERM");
        const timer = setTimeout(() => launcher.kill("SIGKILL"), 30_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return process_;
}
