// The whole shop as real processes, started the way `npm start` starts them
// (the launcher's manifests, the bundles vitest's global setup brought up to
// date, Node flags and per-service environment), but against the machine's Postgres and NATS with databases,
// event subjects and ports that nobody else uses, so end-to-end suites can
// run beside each other and beside a running `npm start`. Processes can be
// SIGKILLed and restarted to prove the saga survives crashes.
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { dropDatabase, withDatabase } from "@shop/runtime/db/database";
import { EventBus, EventNaming } from "@shop/runtime/events/index";
import type { ServiceManifest } from "@shop/runtime/manifest";
import { Child } from "../../scripts/start/child.ts";
import { waitForHealthy } from "../../scripts/start/health.ts";
import type { LogSink } from "../../scripts/start/output.ts";
import {
  childEnv,
  defaultBundleFile,
  discoverManifests,
  NODE_FLAGS,
  REPO_ROOT,
  serviceAddress,
} from "../../scripts/start/services.ts";
import { ADMIN_EMAIL, ADMIN_PASSWORD, SIGNING_KEY_ENCRYPTION_KEY, shopAccess, type Account } from "./shop-access.ts";
import { ADMIN_DATABASE_URL, freePorts, NATS_URL, uniqueId, type ServiceName } from "./system.ts";

export interface LogLine {
  service: string;
  text: string;
}

export interface ProcessSystem {
  readonly id: string;
  readonly naming: EventNaming;
  readonly logs: readonly LogLine[];
  url(name: ServiceName): string;
  databaseUrl(name: ServiceName): string;
  client<S extends DescService>(service: S): Client<S>;
  signUp(displayName?: string): Promise<Account>;
  adminToken(): Promise<string>;
  /** The service's process id while it runs (to read its memory, for example). */
  pid(name: ServiceName): number | undefined;
  /** Whether the service's process is running (it has not exited or been killed). */
  running(name: ServiceName): boolean;
  /** SIGKILL: no drain, no cleanup, exactly like a crash. */
  kill(name: ServiceName): Promise<void>;
  /** Starts a stopped or killed service again (same port, same database) and waits until SERVING. */
  start(name: ServiceName): Promise<void>;
  stop(): Promise<void>;
}

export interface ProcessSystemOptions {
  /** Defaults to every deployable that has a main.ts. */
  services?: ServiceName[];
  /** Extra environment for every service (timeouts, processor delays...). */
  env?: Record<string, string>;
  healthTimeoutMs?: number;
}

export async function startProcessSystem(options: ProcessSystemOptions = {}): Promise<ProcessSystem> {
  const id = uniqueId("e2e");
  const naming = new EventNaming({ subjectPrefix: id, streamPrefix: id.toUpperCase() });
  const manifests = (await discoverManifests()).filter(
    (m) => !options.services || options.services.includes(m.name as ServiceName),
  );
  const ports = new Map<string, number>();
  // Distinct: ports picked one by one can repeat.
  const free = await freePorts(manifests.length);
  manifests.forEach((m, i) => ports.set(m.name, free[i]));
  const byName = new Map(manifests.map((m) => [m.name, m]));
  const databaseUrl = (name: ServiceName) => withDatabase(ADMIN_DATABASE_URL, `${id}_${name}`);
  const url = (name: ServiceName) => serviceAddress(ports.get(name) ?? fail(`${name} is not part of this system`));
  const logs: LogLine[] = [];
  const sink: LogSink = { line: (service, text) => void logs.push({ service, text }) };
  const baseEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    EVENTS_SUBJECT_PREFIX: naming.subjectPrefix,
    EVENTS_STREAM_PREFIX: naming.streamPrefix,
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    SIGNING_KEY_ENCRYPTION_KEY,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "info",
    // No metrics endpoints: the default (PORT + 1000) could land on a port
    // another system running in parallel has just been given.
    METRICS_PORT: "0",
    ...options.env,
  };
  const healthTimeoutMs = options.healthTimeoutMs ?? 90_000;
  const children = new Map<string, Child>();

  const launch = (manifest: ServiceManifest) => {
    const env = childEnv(manifest, { ports, databaseServerUrl: ADMIN_DATABASE_URL, natsUrl: NATS_URL, env: baseEnv });
    if (manifest.database) env.DATABASE_URL = databaseUrl(manifest.name as ServiceName);
    const child = new Child({
      name: manifest.name,
      command: process.execPath,
      args: [...NODE_FLAGS, defaultBundleFile(manifest.name)],
      env,
      cwd: REPO_ROOT,
      sink,
      ipc: true,
    });
    children.set(manifest.name, child);
    return { name: manifest.name, address: serviceAddress(ports.get(manifest.name)!) };
  };
  const waitHealthy = async (targets: { name: string; address: string }[]) => {
    const died = new AbortController();
    for (const t of targets) {
      void children.get(t.name)!.exited.then((exit) => {
        if (!died.signal.aborted)
          died.abort(
            new Error(
              `${t.name} exited while starting (${exit.code ?? exit.signal}): ${children.get(t.name)!.tail.toString()}`,
            ),
          );
      });
    }
    try {
      await waitForHealthy(targets, { timeoutMs: healthTimeoutMs, signal: died.signal });
    } finally {
      died.abort();
    }
  };

  const stopAll = async () => {
    await Promise.all([...children.values()].map((c) => c.stop([{ signal: "SIGTERM", graceMs: 15_000 }])));
    for (const m of manifests) if (m.database) await dropDatabase(databaseUrl(m.name as ServiceName)).catch(() => {});
    const bus = await EventBus.connect({ servers: NATS_URL, naming });
    for await (const stream of bus.jsm.streams.names()) {
      if (stream.startsWith(`${naming.streamPrefix}_`)) await bus.jsm.streams.delete(stream).catch(() => {});
    }
    await bus.close();
  };

  try {
    // identity first (everyone fetches its keys), then the rest at once, as npm start does.
    const first = manifests.filter((m) => Object.keys(m.dependsOn).length === 0);
    const rest = manifests.filter((m) => !first.includes(m));
    for (const wave of [first, rest]) await waitHealthy(wave.map(launch));
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }

  const access = shopAccess((service) => {
    const owner = manifests.find((m) => m.serves.includes(service)) ?? fail(`no deployable serves ${service.typeName}`);
    return url(owner.name as ServiceName);
  });

  return {
    id,
    naming,
    logs,
    url,
    databaseUrl,
    client: access.client,
    signUp: access.signUp,
    adminToken: access.adminToken,
    pid: (name) => children.get(name)?.pid,
    running: (name) => children.get(name)?.running ?? false,
    async kill(name) {
      await children.get(name)?.stop([]); // no graceful step: straight to SIGKILL
    },
    async start(name) {
      const manifest = byName.get(name) ?? fail(`${name} is not part of this system`);
      if (children.get(name)?.running) throw new Error(`${name} is still running`);
      await waitHealthy([launch(manifest)]);
    },
    async stop() {
      access.close();
      await stopAll();
    },
  };
}

function fail(message: string): never {
  throw new Error(message);
}
