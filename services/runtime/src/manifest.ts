// A service's manifest: the one declaration of what a deployable is. The
// runtime serves and connects from it, `npm start` launches from it, and the
// mesh generator writes Deployments, Services and AuthorizationPolicies from
// it, so code, launcher and mesh cannot disagree about names, ports or who may
// call whom.
import type { DescMessage, DescService } from "@bufbuild/protobuf";

/** A service this one calls, and (optionally) the only methods it calls. */
export interface Dependency {
  service: DescService;
  /** Method names (`localName`s such as "getJwks"); all methods when omitted. */
  methods?: readonly string[];
}

export interface ServiceManifest<Deps extends Record<string, Dependency> = Record<string, Dependency>> {
  /** Deployable name: folder under services/, database name, service account. */
  readonly name: string;
  /** Default gRPC/Connect port (h2c); overridable with PORT. */
  readonly port: number;
  /** The Protobuf services this deployable serves (health and reflection come on top). */
  readonly serves: readonly DescService[];
  /** Services it calls; typed clients exist only for these. Keyed by the callee's deployable name. */
  readonly dependsOn: Deps;
  /** Events it publishes through its outbox. */
  readonly publishes: readonly DescMessage[];
  /** Events it consumes. */
  readonly consumes: readonly DescMessage[];
  /** Whether it owns a Postgres database. */
  readonly database: boolean;
}

export function defineService<const Deps extends Record<string, Dependency>>(
  manifest: ServiceManifest<Deps>,
): ServiceManifest<Deps> {
  return manifest;
}

export { addressVariable } from "./clients.ts";

/**
 * How Node runs every service, wherever it runs (npm start, Dockerfile,
 * Deployments): TypeScript directly (transform, not just strip, because
 * protobuf-es generates enums), and a small young generation plus a heap cap
 * so an idle service does not hold on to memory V8 reserved while loading
 * its modules (about 270 MB resident without these, about 125 MB with).
 */
export const SERVICE_NODE_FLAGS = [
  "--experimental-transform-types",
  "--disable-warning=ExperimentalWarning",
  "--max-semi-space-size=2",
  "--max-old-space-size=192",
] as const;

/**
 * Where a deployable serves Prometheus metrics unless METRICS_PORT says
 * otherwise: its RPC port + 1000 (order 50054 → 51054, gateway 8080 → 9080),
 * so `npm start`'s distinct RPC ports give distinct metrics ports and the
 * mesh generator derives the same number. 0 (disabled) when that would not
 * be a valid port.
 */
export function defaultMetricsPort(rpcPort: number): number {
  const port = rpcPort + METRICS_PORT_OFFSET;
  return port <= 65535 ? port : 0;
}

export const METRICS_PORT_OFFSET = 1000;
