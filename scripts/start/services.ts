// What to launch, derived from the services' manifests: which deployables
// exist, their ports (manifest default, overridable by <NAME>_PORT), their
// databases, and the environment each child process gets.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  addressVariable,
  SERVICE_ENVIRONMENT,
  SERVICE_NODE_FLAGS,
  serviceBundle,
  type ServiceManifest,
} from "@shop/runtime/manifest";
import { LaunchError } from "./errors.ts";
import { LOOPBACK, parsePort } from "./ports.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SERVICES_DIR = path.join(REPO_ROOT, "services");

/** The admin `npm start` creates unless ADMIN_EMAIL / ADMIN_PASSWORD say otherwise. */
export const DEV_ADMIN = { email: "admin@shop.local", password: "admin-password" } as const;

/** identity's key-encryption key under `npm start` unless SIGNING_KEY_ENCRYPTION_KEY says otherwise (dev only). */
export const DEV_SIGNING_KEY_ENCRYPTION_KEY = Buffer.from("npm start: identity's dev KEK 32").toString("base64");

/** Node flags every service runs with (see SERVICE_NODE_FLAGS for why). */
export const NODE_FLAGS = SERVICE_NODE_FLAGS;

/** The source entry point of a deployable: services/<name>/src/main.ts. */
export function defaultMainFile(name: string, servicesDir = SERVICES_DIR): string {
  return path.join(servicesDir, name, "src", "main.ts");
}

/** What Node runs for a deployable: its bundle, services/<name>/dist/main.js (see serviceBundle). */
export function defaultBundleFile(name: string, servicesDir = SERVICES_DIR): string {
  return path.join(servicesDir, path.relative("services", serviceBundle(name)));
}

/**
 * Every deployable's manifest: each services/<name>/src/manifest.ts that
 * exports `manifest` (the runtime package has a manifest.ts too, but it only
 * defines the type). Ordered leaves first (fewest dependencies), then by port.
 */
export async function discoverManifests(servicesDir = SERVICES_DIR): Promise<ServiceManifest[]> {
  const manifests: ServiceManifest[] = [];
  for (const entry of readdirSync(servicesDir, { withFileTypes: true })) {
    const file = path.join(servicesDir, entry.name, "src", "manifest.ts");
    if (!entry.isDirectory() || !existsSync(file)) continue;
    const module = (await import(pathToFileURL(file).href)) as { manifest?: ServiceManifest };
    if (!module.manifest) continue;
    if (module.manifest.name !== entry.name) {
      throw new LaunchError(
        `services/${entry.name}/src/manifest.ts declares name "${module.manifest.name}"; it must match its folder`,
      );
    }
    manifests.push(module.manifest);
  }
  return manifests.sort((a, b) => Object.keys(a.dependsOn).length - Object.keys(b.dependsOn).length || a.port - b.port);
}

/** Environment variable overriding a deployable's port, e.g. ORDER_PORT (named like addressVariable's). */
export function portVariable(name: string): string {
  return `${name.toUpperCase()}_PORT`;
}

/** Each deployable's port: <NAME>_PORT if set, else the manifest's default. */
export function resolvePorts(manifests: readonly ServiceManifest[], env: NodeJS.ProcessEnv): Map<string, number> {
  const ports = new Map<string, number>();
  const owners = new Map<number, string>();
  for (const m of manifests) {
    const port = parsePort(portVariable(m.name), env[portVariable(m.name)], m.port);
    const clash = owners.get(port);
    if (clash)
      throw new LaunchError(
        `${m.name} and ${clash} would both listen on port ${port}; set ${portVariable(m.name)} or ${portVariable(clash)}`,
      );
    owners.set(port, m.name);
    ports.set(m.name, port);
  }
  return ports;
}

/** The database a deployable owns on the shared server: shop_<name>. */
export function databaseName(service: string): string {
  return `shop_${service}`;
}

/**
 * A deployable's DATABASE_URL: the server URL (the user's DATABASE_URL or the
 * embedded Postgres) with the database name replaced by shop_<name>; user,
 * password, host, port and query parameters (sslmode...) are kept.
 */
export function serviceDatabaseUrl(serverUrl: string, service: string): string {
  if (!/^postgres(ql)?:\/\//.test(serverUrl) || !URL.canParse(serverUrl)) {
    throw new LaunchError(
      `DATABASE_URL must be a postgres:// URL such as postgres://user:password@127.0.0.1:5432/postgres (got ${JSON.stringify(redact(serverUrl))})`,
    );
  }
  return withDatabase(serverUrl, databaseName(service));
}

/**
 * `url` with its database name replaced (the same rule as the runtime's
 * withDatabase; not imported from there because that module loads drizzle,
 * which alone takes seconds to import and would delay every start).
 */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Base URL other processes use to reach a deployable, e.g. http://127.0.0.1:7002. */
export function serviceAddress(port: number): string {
  return `http://${LOOPBACK}:${port}`;
}

export interface ChildEnvContext {
  /** Port of every deployable (including ones not launched, so their addresses are still known). */
  ports: ReadonlyMap<string, number>;
  /** Server-level Postgres URL; each service gets its own database on it. */
  databaseServerUrl: string;
  natsUrl: string;
  /** The user's environment, passed through. */
  env: NodeJS.ProcessEnv;
  /** Node's on-disk code cache for the services (NODE_COMPILE_CACHE), unless the user set one. */
  compileCacheDir?: string;
}

/**
 * The environment of one service's process: SERVICE_ENVIRONMENT, the user's
 * environment, then PORT, HOST, DATABASE_URL (only for services owning a database), NATS_URL,
 * LOG_LEVEL (default info) and <DEP>_ADDR for every declared dependency.
 */
export function childEnv(manifest: ServiceManifest, ctx: ChildEnvContext): NodeJS.ProcessEnv {
  const port = ctx.ports.get(manifest.name);
  if (port === undefined) throw new Error(`no port for ${manifest.name}`);
  const env: NodeJS.ProcessEnv = { ...SERVICE_ENVIRONMENT, ...ctx.env };
  // The user's DATABASE_URL names a server, not this service's database.
  delete env.DATABASE_URL;
  if (manifest.database) env.DATABASE_URL = serviceDatabaseUrl(ctx.databaseServerUrl, manifest.name);
  env.PORT = String(port);
  env.HOST = LOOPBACK;
  env.NATS_URL = ctx.natsUrl;
  env.LOG_LEVEL = ctx.env.LOG_LEVEL || "info";
  // A local shop needs an operator: identity creates this admin at start-up.
  // Development credentials only; printed by the banner, overridable.
  env.ADMIN_EMAIL = ctx.env.ADMIN_EMAIL || DEV_ADMIN.email;
  env.ADMIN_PASSWORD = ctx.env.ADMIN_PASSWORD || DEV_ADMIN.password;
  // identity stores its signing keys encrypted with this; a laptop's is as public as the dev admin's.
  env.SIGNING_KEY_ENCRYPTION_KEY = ctx.env.SIGNING_KEY_ENCRYPTION_KEY || DEV_SIGNING_KEY_ENCRYPTION_KEY;
  // Compiling each service's bundle on every start is much of its start-up
  // time; V8's code cache on disk makes every start after the first faster.
  if (ctx.compileCacheDir && !env.NODE_COMPILE_CACHE && !env.NODE_DISABLE_COMPILE_CACHE) {
    env.NODE_COMPILE_CACHE = ctx.compileCacheDir;
  }
  for (const dependency of Object.keys(manifest.dependsOn)) {
    const depPort = ctx.ports.get(dependency);
    if (depPort === undefined) {
      throw new LaunchError(
        `${manifest.name} depends on "${dependency}", which has no services/${dependency}/src/manifest.ts`,
      );
    }
    env[addressVariable(dependency)] = serviceAddress(depPort);
  }
  return env;
}

/**
 * Start-up waves: everything at once. Nothing needs another service to start:
 * clients connect lazily and token-verification keys are fetched from
 * identity on the first authenticated call. On two cores one wave keeps both
 * cores busy throughout (measured: warm start 16.0 s with identity first,
 * 11.3 s in one wave).
 */
export function startWaves<T extends { manifest: ServiceManifest }>(services: readonly T[]): T[][] {
  return services.length > 0 ? [[...services]] : [];
}

/** `url` with any password replaced by ***, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    // Unparseable (e.g. an unescaped "#" in the password): hide any credentials anyway.
    return url.replace(/\/\/[^@/]*@/, "//***@");
  }
}
