// Starts real services inside the test process, each on its own free port with
// its own freshly created database and with event subjects and streams nobody
// else uses, against the machine's Postgres and NATS JetStream. For tests of
// one or a few services; the end-to-end suites start real processes instead.
//
//   const system = await startSystem(["identity", "catalog"]);
//   const catalog = system.client(CatalogService);
//   const admin = await system.adminToken();
//   await catalog.createProduct({...}, { headers: bearer(admin) });
//   await system.stop();
import { randomBytes } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import type { DestinationStream } from "pino";
import type { Client } from "@connectrpc/connect";
import { addressVariable } from "@shop/runtime/clients";
import { dropDatabase, withDatabase } from "@shop/runtime/db/database";
import { EventBus, EventNaming } from "@shop/runtime/events/index";
import type { ServiceManifest } from "@shop/runtime/manifest";
import { startService, type RunningService } from "@shop/runtime/service";

export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
import { freePort, freePorts } from "../../scripts/start/ports.ts";
import { ADMIN_EMAIL, ADMIN_PASSWORD, SIGNING_KEY_ENCRYPTION_KEY, shopAccess, type Account } from "./shop-access.ts";

export { ADMIN_EMAIL, ADMIN_PASSWORD, SIGNING_KEY_ENCRYPTION_KEY, type Account };
export { freePort, freePorts };

export type ServiceName = "identity" | "catalog" | "inventory" | "payment" | "order" | "notification" | "gateway";

export function uniqueId(prefix = "t"): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

/** Request headers carrying an access token. */
export function bearer(token: string): Headers {
  return new Headers({ authorization: `Bearer ${token}` });
}

export interface TestSystem {
  readonly id: string;
  readonly naming: EventNaming;
  readonly env: Record<string, string>;
  url(name: ServiceName): string;
  /** The service's Prometheus endpoint, e.g. http://127.0.0.1:41234/metrics (startSystem's `metrics` option). */
  metricsUrl(name: ServiceName): string;
  databaseUrl(name: ServiceName): string;
  /** A Connect client (binary, HTTP/2) for a service, found by which deployable serves it. */
  client<S extends DescService>(service: S): Client<S>;
  /** Registers a fresh customer through identity. */
  signUp(displayName?: string): Promise<Account>;
  /** Logs in as the admin that identity creates from ADMIN_EMAIL/ADMIN_PASSWORD. */
  adminToken(): Promise<string>;
  /** Restarts one service (same port, same database), e.g. after killing it. */
  restart(name: ServiceName): Promise<void>;
  stopService(name: ServiceName): Promise<void>;
  stop(): Promise<void>;
}

interface Definition {
  manifest: ServiceManifest;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
}

async function loadDefinition(name: ServiceName): Promise<Definition> {
  const module = (await import(`../../services/${name}/src/service.ts`)) as { definition: Definition };
  return module.definition;
}

export interface SystemOptions {
  /** Added to every service's environment (e.g. OTEL_EXPORTER_OTLP_ENDPOINT). */
  env?: Record<string, string>;
  /** Serve each service's /metrics on a free port (default: no metrics endpoints). */
  metrics?: boolean;
  /** Every service's log lines go here instead of stdout. */
  logs?: DestinationStream;
}

export async function startSystem(names: ServiceName[], options: SystemOptions = {}): Promise<TestSystem> {
  const id = uniqueId();
  const naming = new EventNaming({ subjectPrefix: id, streamPrefix: id.toUpperCase() });
  const definitions = new Map<ServiceName, Definition>();
  const ports = new Map<ServiceName, number>();
  const metricsPorts = new Map<ServiceName, number>();
  // Distinct: ports picked one by one can repeat.
  const free = await freePorts(names.length * (options.metrics ? 2 : 1));
  for (const name of names) {
    definitions.set(name, await loadDefinition(name));
    ports.set(name, free.pop()!);
    if (options.metrics) metricsPorts.set(name, free.pop()!);
  }
  const url = (name: ServiceName) => {
    const port = ports.get(name);
    if (port === undefined) throw new Error(`${name} is not part of this test system`);
    return `http://127.0.0.1:${port}`;
  };
  const databaseUrl = (name: ServiceName) => withDatabase(ADMIN_DATABASE_URL, `${id}_${name}`);
  const sharedEnv: Record<string, string> = {
    NATS_URL,
    EVENTS_SUBJECT_PREFIX: naming.subjectPrefix,
    EVENTS_STREAM_PREFIX: naming.streamPrefix,
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    SIGNING_KEY_ENCRYPTION_KEY,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    // The default (PORT + 1000) could collide between test files running at once.
    METRICS_PORT: "0",
    ...options.env,
  };
  const envFor = (name: ServiceName): Record<string, string> => {
    const manifest = definitions.get(name)!.manifest;
    const env: Record<string, string> = { ...sharedEnv, PORT: String(ports.get(name)), HOST: "127.0.0.1" };
    if (metricsPorts.has(name)) env.METRICS_PORT = String(metricsPorts.get(name));
    if (manifest.database) env.DATABASE_URL = databaseUrl(name);
    for (const dependency of Object.keys(manifest.dependsOn)) {
      // A dependency not started in this system points at a closed port: calls fail Unavailable.
      env[addressVariable(dependency)] = ports.has(dependency as ServiceName)
        ? url(dependency as ServiceName)
        : "http://127.0.0.1:9";
    }
    return env;
  };

  const running = new Map<ServiceName, RunningService>();
  const start = async (name: ServiceName) => {
    running.set(
      name,
      await startService({ ...definitions.get(name)!, env: envFor(name), logDestination: options.logs } as never),
    );
  };
  const stopService = async (name: ServiceName) => {
    await running.get(name)?.stop();
    running.delete(name);
  };
  // identity first: the others fetch its keys when they verify a token.
  const ordered = [...names].sort((a, b) => Number(b === "identity") - Number(a === "identity"));
  try {
    for (const name of ordered) await start(name);
  } catch (err) {
    for (const name of [...running.keys()].reverse()) await stopService(name).catch(() => {});
    throw err;
  }

  const access = shopAccess((service) => {
    const owner = names.find((n) => definitions.get(n)!.manifest.serves.includes(service));
    if (!owner) throw new Error(`no started service serves ${service.typeName}`);
    return url(owner);
  });
  return {
    id,
    naming,
    env: sharedEnv,
    url,
    metricsUrl(name) {
      const port = metricsPorts.get(name);
      if (port === undefined)
        throw new Error(`${name} has no metrics endpoint: start the system with { metrics: true }`);
      return `http://127.0.0.1:${port}/metrics`;
    },
    databaseUrl,
    client: access.client,
    signUp: access.signUp,
    adminToken: access.adminToken,
    restart: async (name) => {
      await stopService(name);
      await start(name);
    },
    stopService,
    async stop() {
      access.close();
      for (const name of [...ordered].reverse()) await stopService(name).catch(() => {});
      for (const name of names) {
        if (definitions.get(name)!.manifest.database) await dropDatabase(databaseUrl(name)).catch(() => {});
      }
      const bus = await EventBus.connect({ servers: NATS_URL, naming });
      for await (const stream of bus.jsm.streams.names()) {
        if (stream.startsWith(`${naming.streamPrefix}_`)) await bus.jsm.streams.delete(stream).catch(() => {});
      }
      await bus.close();
    },
  };
}

export { eventually } from "./eventually.ts";
